<?php

declare(strict_types=1);

namespace PivotPHP\Runtime\RoadRunner\Tests\Lifecycle;

use PHPUnit\Framework\TestCase;
use PivotPHP\Runtime\RoadRunner\Http\Request;
use PivotPHP\Runtime\RoadRunner\Lifecycle\Hooks;
use PivotPHP\Runtime\RoadRunner\Lifecycle\Response;

final class HooksTest extends TestCase
{
    public function testListenersRunInRegistrationOrder(): void
    {
        $calls = [];
        $request = new Request('127.0.0.1', 'HTTP/1.1', 'GET', 'http://h/x');
        $hooks = (new Hooks())
            ->onWorkerStart(static function () use (&$calls): void { $calls[] = 'worker start'; })
            ->onRequestStart(static function (Request $r) use (&$calls): void { $calls[] = 'start 1 ' . $r->path(); })
            ->onRequestStart(static function () use (&$calls): void { $calls[] = 'start 2'; })
            ->onReset(static function () use (&$calls): void { $calls[] = 'reset'; })
            ->onWorkerStop(static function () use (&$calls): void { $calls[] = 'worker stop'; });

        $hooks->workerStarted();
        $hooks->requestStarted($request);
        self::assertSame([], $hooks->reset());
        self::assertSame([], $hooks->workerStopped());

        self::assertSame(['worker start', 'start 1 /x', 'start 2', 'reset', 'worker stop'], $calls);
    }

    public function testRequestEndListenersMayReplaceTheResponse(): void
    {
        $request = new Request('127.0.0.1', 'HTTP/1.1', 'GET', 'http://h/');
        $hooks = (new Hooks())
            ->onRequestEnd(static fn (Request $r, Response $res): Response => $res->withAddedHeader('X-Seen', '1'))
            ->onRequestEnd(static function (): void {
            })
            ->onRequestEnd(static fn (Request $r, Response $res): Response => $res->withAddedHeader('X-Seen', '2'));

        $response = $hooks->requestEnded($request, new Response(200, [], 'ok'));

        self::assertSame('1, 2', $response->header('X-Seen'));
        self::assertSame('ok', $response->body);
    }

    public function testEveryResetListenerRunsAndFailuresAreReturned(): void
    {
        $ran = [];
        $hooks = (new Hooks())
            ->onReset(static function () use (&$ran): void {
                $ran[] = 1;
                throw new \RuntimeException('first failed');
            })
            ->onReset(static function () use (&$ran): void {
                $ran[] = 2;
            });

        $failures = $hooks->reset();

        self::assertSame([1, 2], $ran);
        self::assertCount(1, $failures);
        self::assertSame('first failed', $failures[0]->getMessage());
    }

    public function testErrorListenersGetTheThrowable(): void
    {
        $seen = null;
        $hooks = (new Hooks())->onError(static function (\Throwable $e, ?Request $r) use (&$seen): void {
            $seen = $e->getMessage() . ' on ' . $r?->path();
        });

        $hooks->errorOccurred(new \LogicException('bad'), new Request('127.0.0.1', 'HTTP/1.1', 'GET', 'http://h/y'));

        self::assertSame('bad on /y', $seen);
    }

    public function testRequestStartFailurePropagates(): void
    {
        $hooks = (new Hooks())->onRequestStart(static function (): void {
            throw new \DomainException('refused');
        });

        $this->expectException(\DomainException::class);
        $hooks->requestStarted(new Request('127.0.0.1', 'HTTP/1.1', 'GET', 'http://h/'));
    }
}
