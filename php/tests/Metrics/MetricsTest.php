<?php

declare(strict_types=1);

namespace PivotPHP\Runtime\RoadRunner\Tests\Metrics;

use PHPUnit\Framework\TestCase;
use PivotPHP\Runtime\RoadRunner\Metrics\Collector;
use PivotPHP\Runtime\RoadRunner\Metrics\Metrics;
use PivotPHP\Runtime\RoadRunner\Metrics\MetricsException;
use PivotPHP\Runtime\RoadRunner\Rpc\ServiceException;
use PivotPHP\Runtime\RoadRunner\Tests\Support\RecordingRpc;

/**
 * metrics.* calls as JSON (roadrunner-go-api.md §7): Declare takes
 * {"name","collector":{…}} (json tags), Add/Sub/Observe/Set take {"Name","Value","Labels"}
 * (metrics/v4's Metric has no JSON tags).
 */
final class MetricsTest extends TestCase
{
    private RecordingRpc $rpc;
    private Metrics $metrics;

    protected function setUp(): void
    {
        $this->rpc = new RecordingRpc();
        $this->metrics = new Metrics($this->rpc);
    }

    public function testDeclareEveryCollectorType(): void
    {
        $this->metrics->declare('orders_total', Collector::counter('Orders placed')->withLabels('channel'));
        $this->metrics->declare('queue_size', Collector::gauge('Waiting')->withNamespace('app', 'shop'));
        $this->metrics->declare('latency_seconds', Collector::histogram('Latency', [0.1, 1, 5]));
        $this->metrics->declare('size_bytes', Collector::summary('Sizes'));

        self::assertSame([
            'metrics.Declare {"name":"orders_total","collector":{"type":"counter","help":"Orders placed","labels":["channel"],"buckets":[]}}',
            'metrics.Declare {"name":"queue_size","collector":{"type":"gauge","help":"Waiting","labels":[],"buckets":[],"namespace":"app","subsystem":"shop"}}',
            'metrics.Declare {"name":"latency_seconds","collector":{"type":"histogram","help":"Latency","labels":[],"buckets":[0.1,1.0,5.0]}}',
            'metrics.Declare {"name":"size_bytes","collector":{"type":"summary","help":"Sizes","labels":[],"buckets":[]}}',
        ], $this->rpc->wire());
    }

    public function testValuesUseGoFieldNames(): void
    {
        $this->metrics->add('orders_total', 1, ['web']);
        $this->metrics->sub('queue_size', 2.5);
        $this->metrics->observe('latency_seconds', 0.25, ['GET', '200']);
        $this->metrics->set('queue_size', 7);

        self::assertSame([
            'metrics.Add {"Name":"orders_total","Value":1.0,"Labels":["web"]}',
            'metrics.Sub {"Name":"queue_size","Value":2.5,"Labels":[]}',
            'metrics.Observe {"Name":"latency_seconds","Value":0.25,"Labels":["GET","200"]}',
            'metrics.Set {"Name":"queue_size","Value":7.0,"Labels":[]}',
        ], $this->rpc->wire());
    }

    public function testDeclaringAnExistingCollectorIsFine(): void
    {
        // Every worker declares the same metrics; RoadRunner refuses all but the first.
        $this->rpc->willReturn(new ServiceException('metrics.Declare', "metrics_plugin_declare: tried to register existing collector with the name `orders_total`"));

        $this->metrics->declare('orders_total', Collector::counter('Orders'));
        self::assertCount(1, $this->rpc->calls);
    }

    public function testDefinedCollectorsAreDeclaredOnFirstUse(): void
    {
        $this->metrics->define('orders_total', Collector::counter('Orders')->withLabels('channel'));
        self::assertSame([], $this->rpc->calls, 'define sends nothing');

        $this->rpc->willReturn(
            new ServiceException(
                'metrics.Add',
                'metrics_plugin_add: undefined collector orders_total, try first Declare the desired collector',
            ),
            true,
            true,
            true,
        );
        $this->metrics->add('orders_total', 1, ['web']);
        $this->metrics->add('orders_total', 1, ['api']);

        self::assertSame([
            'metrics.Add {"Name":"orders_total","Value":1.0,"Labels":["web"]}',
            'metrics.Declare {"name":"orders_total","collector":{"type":"counter","help":"Orders","labels":["channel"],"buckets":[]}}',
            'metrics.Add {"Name":"orders_total","Value":1.0,"Labels":["web"]}',
            'metrics.Add {"Name":"orders_total","Value":1.0,"Labels":["api"]}',
        ], $this->rpc->wire());
    }

    public function testUndeclaredAndUndefinedIsAnError(): void
    {
        $this->rpc->willReturn(new ServiceException('metrics.Observe', 'metrics_plugin_observe: undefined collector nope'));

        $this->expectException(MetricsException::class);
        $this->expectExceptionMessage('Observe on metric "nope" failed: RPC metrics.Observe failed: metrics_plugin_observe: undefined collector nope');
        $this->metrics->observe('nope', 1);
    }

    public function testWrongLabelCountCarriesTheServerMessage(): void
    {
        $this->rpc->willReturn(new ServiceException('metrics.Add', 'metrics_plugin_add: required labels for collector `orders_total`'));

        $this->expectException(MetricsException::class);
        $this->expectExceptionMessage('required labels for collector `orders_total`');
        $this->metrics->add('orders_total', 1);
    }

    public function testNamesAndValuesAreValidated(): void
    {
        foreach ([
            fn () => $this->metrics->declare('bad-name', Collector::counter('x')),
            fn () => Collector::counter('x')->withLabels('bad label'),
            fn () => Collector::counter('x')->withLabels('__reserved'),
            fn () => $this->metrics->add('x', INF),
            fn () => $this->metrics->add('x', 1, [1]),
        ] as $call) {
            try {
                $call();
                self::fail('expected an InvalidArgumentException');
            } catch (\InvalidArgumentException) {
                self::addToAssertionCount(1);
            }
        }
        self::assertSame([], $this->rpc->calls);
    }
}
