<?php

declare(strict_types=1);

namespace PivotPHP\Runtime\RoadRunner\Tests\Jobs;

use PHPUnit\Framework\TestCase;
use PivotPHP\Runtime\RoadRunner\Jobs\InvalidJobException;
use PivotPHP\Runtime\RoadRunner\Jobs\Job;
use PivotPHP\Runtime\RoadRunner\Jobs\Jobs;
use PivotPHP\Runtime\RoadRunner\Jobs\JobsException;
use PivotPHP\Runtime\RoadRunner\Jobs\PipelineStat;
use PivotPHP\Runtime\RoadRunner\Rpc\ServiceException;
use PivotPHP\Runtime\RoadRunner\Tests\Support\RecordingRpc;

/**
 * The jobs.* calls as JSON bodies (wire-protocol.md §5.2, §5.5): proto field names, payload
 * as base64, headers as {"name":{"value":[…]}}, options only when set.
 */
final class JobsTest extends TestCase
{
    private RecordingRpc $rpc;
    private Jobs $jobs;

    protected function setUp(): void
    {
        $this->rpc = new RecordingRpc();
        $this->jobs = new Jobs($this->rpc);
    }

    public function testDispatchArrayPayloadWithEveryOption(): void
    {
        $id = $this->jobs->dispatch('emails', 'App\Job', ['to' => 'ada@example.com'], [
            'delay' => 5,
            'priority' => 3,
            'headers' => ['h' => ['a', 'b'], 'single' => 'x'],
            'auto_ack' => true,
            'id' => 'id-1',
        ]);

        self::assertSame('id-1', $id);
        self::assertSame(['jobs.Push {"job":{"job":"App\\\\Job","id":"id-1","payload":"' . base64_encode('{"to":"ada@example.com"}') . '",'
            . '"headers":{"h":{"value":["a","b"]},"single":{"value":["x"]},"Content-Type":{"value":["application/json"]}},'
            . '"options":{"pipeline":"emails","priority":3,"delay":5,"auto_ack":true}}}'], $this->rpc->wire());
    }

    public function testDispatchStringPayloadAsBytesWithAGeneratedId(): void
    {
        $id = $this->jobs->dispatch('p', 'raw', "\x00\xffbytes");

        self::assertMatchesRegularExpression(
            '/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/',
            $id,
        );
        self::assertSame(
            ['jobs.Push {"job":{"job":"raw","id":"' . $id . '","payload":"AP9ieXRlcw==","headers":{},"options":{"pipeline":"p"}}}'],
            $this->rpc->wire(),
        );
    }

    public function testBatch(): void
    {
        $ids = $this->jobs->dispatchBatch(
            new Job('p', 'a', 'x', ['id' => '1']),
            new Job('q', 'b', [1], ['id' => '2', 'delay' => 1]),
        );

        self::assertSame(['1', '2'], $ids);
        self::assertSame(['jobs.PushBatch {"jobs":[{"job":"a","id":"1","payload":"eA==","headers":{},"options":{"pipeline":"p"}},'
            . '{"job":"b","id":"2","payload":"WzFd","headers":{"Content-Type":{"value":["application/json"]}},"options":{"pipeline":"q","delay":1}}]}'], $this->rpc->wire());
        self::assertSame([], $this->jobs->dispatchBatch());
        self::assertCount(1, $this->rpc->calls);
    }

    public function testPipelineManagement(): void
    {
        $this->rpc->willReturn(null, null, ['pipelines' => ['z', 'a']], null, ['pipelines' => ['a']]);

        $this->jobs->pause('a', 'b');
        $this->jobs->resume('a');
        self::assertSame(['a', 'z'], $this->jobs->list());
        $this->jobs->declare('dyn', 'memory', ['prefetch' => 100, 'flag' => true], 3);
        self::assertSame(['a'], $this->jobs->destroy('a'));

        self::assertSame([
            'jobs.Pause {"pipelines":["a","b"]}',
            'jobs.Resume {"pipelines":["a"]}',
            'jobs.List ', // empty argument, as RoadRunner expects
            'jobs.Declare {"pipeline":{"driver":"memory","name":"dyn","priority":"3","prefetch":"100","flag":"true"}}',
            'jobs.Destroy {"pipelines":["a"]}',
        ], $this->rpc->wire());
    }

    public function testStatOmitsZeroFieldsAsGoDoes(): void
    {
        $this->rpc->willReturn(['stats' => [
            [
                'pipeline' => 'test-1', 'driver' => 'memory', 'queue' => 'test-1',
                'active' => 2, 'reserved' => 1, 'ready' => true, 'priority' => 10,
            ],
            ['pipeline' => 'paused', 'driver' => 'boltdb', 'delayed' => 4],
        ]]);

        $stats = $this->jobs->stat();

        self::assertSame(['paused', 'test-1'], array_keys($stats));
        self::assertEquals(new PipelineStat('test-1', 'memory', 'test-1', 2, 0, 1, true, 10), $stats['test-1']);
        self::assertEquals(new PipelineStat('paused', 'boltdb', '', 0, 4, 0, false, 0), $stats['paused']);
        self::assertSame(['jobs.Stat '], $this->rpc->wire());
    }

    public function testServerErrorsSayWhatFailed(): void
    {
        $this->rpc->willReturn(new ServiceException('jobs.Push', "rpc_push:\n\tjobs_plugin_push: no such pipeline, requested: nope"));

        $this->expectException(JobsException::class);
        $this->expectExceptionMessageMatches('/^Dispatching job "x" \(id i\) to pipeline "nope" failed: RPC jobs.Push failed: rpc_push: jobs_plugin_push: no such pipeline, requested: nope$/');
        $this->jobs->dispatch('nope', 'x', '', ['id' => 'i']);
    }

    /** @return array<string, array{0: array, 1: string}> */
    public static function badOptions(): array
    {
        return [
            'typo' => [['dealy' => 1], 'Unknown job option "dealy"; known options: delay, priority, headers, auto_ack, id'],
            'negative delay' => [['delay' => -1], 'Job option "delay" must be a non-negative integer, got -1'],
            'string priority' => [['priority' => '1'], 'Job option "priority" must be a non-negative integer'],
            'auto_ack not bool' => [['auto_ack' => 1], 'Job option "auto_ack" must be a boolean'],
            'empty id' => [['id' => ''], 'Job option "id" must be a non-empty string'],
            'header value not string' => [['headers' => ['h' => [1]]], 'Job header "h" values must be strings'],
            'header name not string' => [['headers' => ['v']], 'Job header names must be non-empty strings'],
        ];
    }

    /** @dataProvider badOptions */
    public function testOptionsAreValidatedBeforeAnyCall(array $options, string $message): void
    {
        try {
            $this->jobs->dispatch('p', 'n', 'x', $options);
            self::fail('expected an InvalidJobException');
        } catch (InvalidJobException $e) {
            self::assertStringContainsString($message, $e->getMessage());
        }
        self::assertSame([], $this->rpc->calls);
    }

    public function testNamesAndPayloadAreValidated(): void
    {
        foreach ([['', 'n', 'x'], ['p', ' ', 'x'], ['p', 'n', ["\xff"]]] as [$pipeline, $name, $payload]) {
            try {
                new Job($pipeline, $name, $payload);
                self::fail('expected an InvalidJobException');
            } catch (InvalidJobException) {
                self::addToAssertionCount(1);
            }
        }
    }
}
