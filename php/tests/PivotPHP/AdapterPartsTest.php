<?php

declare(strict_types=1);

namespace PivotPHP\Runtime\RoadRunner\Tests\PivotPHP;

use PHPUnit\Framework\TestCase;
use PivotPHP\Runtime\RoadRunner\Http\HttpWorker;
use PivotPHP\Runtime\RoadRunner\Http\Request;
use PivotPHP\Runtime\RoadRunner\OutputGuard;
use PivotPHP\Runtime\RoadRunner\PivotPHP\RequestFactory;
use PivotPHP\Runtime\RoadRunner\PivotPHP\RoadRunnerAdapter;
use PivotPHP\Runtime\RoadRunner\Relay\StreamRelay;
use PivotPHP\Runtime\RoadRunner\Worker;

/**
 * The adapter's parts that need no PivotPHP core (the rest: ContractTest, against a real core).
 */
final class AdapterPartsTest extends TestCase
{
    public function testRawBodyIsWhatPhpInputWouldHold(): void
    {
        $json = new Request('127.0.0.1', 'HTTP/1.1', 'POST', 'http://h/', ['Content-Type' => ['application/json']], body: '{"a":1}');
        self::assertSame('{"a":1}', RequestFactory::rawBody($json));

        $form = new Request(
            '127.0.0.1',
            'HTTP/1.1',
            'POST',
            'http://h/',
            ['Content-Type' => ['application/x-www-form-urlencoded; charset=UTF-8']],
            body: '{"q":"a b","list":["x","y"]}',
            parsed: true,
            parsedBody: ['q' => 'a b', 'list' => ['x', 'y']],
        );
        self::assertSame('q=a+b&list%5B0%5D=x&list%5B1%5D=y', RequestFactory::rawBody($form));

        $multipart = new Request(
            '127.0.0.1',
            'HTTP/1.1',
            'POST',
            'http://h/',
            ['Content-Type' => ['multipart/form-data; boundary=x']],
            body: '{"f":"v"}',
            parsed: true,
            parsedBody: ['f' => 'v'],
        );
        self::assertSame('', RequestFactory::rawBody($multipart), 'php://input is empty for multipart in PHP too');
    }

    public function testAdapterWithAnInjectedWorkerLeavesOutputAlone(): void
    {
        [$end] = stream_socket_pair(STREAM_PF_UNIX, STREAM_SOCK_STREAM, STREAM_IPPROTO_IP);
        $installed = OutputGuard::isInstalled();

        $adapter = new RoadRunnerAdapter(HttpWorker::create(new Worker(new StreamRelay($end, $end))));

        self::assertSame($installed, OutputGuard::isInstalled());
        self::assertSame($adapter, $adapter->onRequestStart(static function (): void {
        })->onRequestEnd(static function (): void {
        })->onReset(static function (): void {
        }));
    }

    public function testManagerExistsOnlyWhileServing(): void
    {
        [$end] = stream_socket_pair(STREAM_PF_UNIX, STREAM_SOCK_STREAM, STREAM_IPPROTO_IP);
        $adapter = new RoadRunnerAdapter(HttpWorker::create(new Worker(new StreamRelay($end, $end))));

        $this->expectException(\LogicException::class);
        $this->expectExceptionMessage('only while serve() runs');
        $adapter->manager();
    }
}
