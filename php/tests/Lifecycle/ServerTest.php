<?php

declare(strict_types=1);

namespace PivotPHP\Runtime\RoadRunner\Tests\Lifecycle;

use PHPUnit\Framework\TestCase;
use PivotPHP\Runtime\RoadRunner\Goridge\Frame;
use PivotPHP\Runtime\RoadRunner\Http\HttpWorker;
use PivotPHP\Runtime\RoadRunner\Http\Request;
use PivotPHP\Runtime\RoadRunner\Lifecycle\Config;
use PivotPHP\Runtime\RoadRunner\Lifecycle\Hooks;
use PivotPHP\Runtime\RoadRunner\Lifecycle\Log;
use PivotPHP\Runtime\RoadRunner\Lifecycle\Response;
use PivotPHP\Runtime\RoadRunner\Lifecycle\Server;
use PivotPHP\Runtime\RoadRunner\Relay\StreamRelay;
use PivotPHP\Runtime\RoadRunner\Tests\Support\CallbackHandler;
use PivotPHP\Runtime\RoadRunner\Tests\Support\FakeApp;
use PivotPHP\Runtime\RoadRunner\Tests\Support\FakeRoadRunner;
use PivotPHP\Runtime\RoadRunner\Worker;

/**
 * The worker loop in process, RoadRunner's side played over a socket pair: every frame is
 * queued first (the stop frame last), then serve() runs until the stop frame.
 *
 * @backupGlobals enabled
 */
final class ServerTest extends TestCase
{
    private const STOP = '{"stop":true}';

    private HttpWorker $http;
    private FakeRoadRunner $roadRunner;

    /** @var resource */
    private $logStream;

    protected function setUp(): void
    {
        [$workerEnd, $roadRunnerEnd] = stream_socket_pair(STREAM_PF_UNIX, STREAM_SOCK_STREAM, STREAM_IPPROTO_IP);
        $this->http = HttpWorker::create(new Worker(new StreamRelay($workerEnd, $workerEnd)));
        $this->roadRunner = new FakeRoadRunner(new StreamRelay($roadRunnerEnd, $roadRunnerEnd));
        $this->logStream = fopen('php://memory', 'w+b');
        FakeApp::clearCache();
    }

    public function testRecyclesByDecliningTheNextRequestNeverWhileIdle(): void
    {
        $server = $this->server(['max_requests' => 2]);
        $this->send('/echo?n=1');
        $this->send('/echo?n=2');
        $this->send('/echo?n=3');
        $this->send('/echo?n=4');
        $this->roadRunner->sendStopCommand();

        $server->serve(new FakeApp());

        self::assertSame(['1', '2'], [$this->answer()['get']['n'], $this->answer()['get']['n']]);
        // Requests 3 and 4: "restart me and run this request elsewhere", nothing handled.
        foreach ([3, 4] as $n) {
            [$context, $body] = FakeRoadRunner::split($this->roadRunner->receive());
            self::assertSame(self::STOP, $context, "request $n is declined with {\"stop\":true}");
            self::assertSame('', $body);
        }
        $this->roadRunner->assertNothingPending();
        self::assertSame(2, $server->manager()->requests());
        self::assertStringContainsString(
            'Replacing this worker: it served 2 requests (max_requests 2)',
            $this->log(),
        );
    }

    public function testKeepsServingAfterAnException(): void
    {
        $server = $this->server();
        $this->send('/boom');
        $this->send('/echo?after=boom');
        $this->roadRunner->sendStopCommand();

        $server->serve(new FakeApp());

        [$context, $body] = FakeRoadRunner::split($this->roadRunner->receive());
        self::assertSame('{"status":500,"headers":{"Content-Type":["application/json"]}}', $context);
        self::assertSame('{"error":"Internal Server Error"}', $body);
        self::assertSame(['after' => 'boom'], $this->answer()['get']);
        self::assertFalse($server->manager()->shouldRecycle());
    }

    public function testResetRunsAfterEveryRequestAndStaticStateDoesNotLeak(): void
    {
        $hooks = (new Hooks())->onReset(FakeApp::clearCache(...));
        $server = $this->server([], $hooks);
        $app = new FakeApp();
        foreach (['a', 'b', 'c'] as $value) {
            $this->send('/static?v=' . $value);
        }
        $this->roadRunner->sendStopCommand();

        $server->serve($app);

        foreach (['a', 'b', 'c'] as $value) {
            self::assertSame([$value], $this->answer()['cache'], 'each request sees only its own cache entry');
        }
        self::assertSame(3, $app->resets);
    }

    public function testFailedResetReplacesTheWorker(): void
    {
        $hooks = (new Hooks())->onReset(static function (): void {
            throw new \RuntimeException('cache server unreachable');
        });
        $server = $this->server([], $hooks);
        $this->send('/echo');
        $this->send('/echo');
        $this->roadRunner->sendStopCommand();

        $server->serve(new FakeApp());

        self::assertSame('/echo', $this->answer()['uri'], 'the response went out before the reset');
        self::assertSame(self::STOP, FakeRoadRunner::split($this->roadRunner->receive())[0]);
        self::assertStringContainsString(
            'could not reset its state (cache server unreachable)',
            (string) $server->manager()->recycleReason(),
        );
        self::assertStringContainsString('onReset listener failed: RuntimeException: cache server unreachable', $this->log());
    }

    public function testWorkerListenersAndHandlerReset(): void
    {
        $events = [];
        $hooks = (new Hooks())
            ->onWorkerStart(static function () use (&$events): void { $events[] = 'start'; })
            ->onRequestStart(static function (Request $r) use (&$events): void { $events[] = 'request ' . $r->path(); })
            ->onReset(static function () use (&$events): void { $events[] = 'reset'; })
            ->onWorkerStop(static function () use (&$events): void { $events[] = 'stop'; });
        $handler = new CallbackHandler(static fn (Request $r): Response => new Response(204));
        $handler->onReset = static function () use (&$events): void {
            $events[] = 'framework reset';
        };
        $this->send('/one');
        $this->roadRunner->sendStopCommand();

        $this->server([], $hooks)->serve($handler);

        self::assertSame(['start', 'request /one', 'framework reset', 'reset', 'stop'], $events);
        self::assertSame('{"status":204,"headers":{}}', FakeRoadRunner::split($this->roadRunner->receive())[0]);
    }

    public function testTtlReachedWhileIdleDeclinesTheNextRequest(): void
    {
        $now = 0.0;
        $manager = new \PivotPHP\Runtime\RoadRunner\Lifecycle\WorkerManager(
            new Config(maxRequests: 0, memoryLimit: 0, ttl: 10, gcThreshold: 0),
            static function () use (&$now): float {
                return $now;
            },
        );
        $server = new Server($this->http, null, null, $manager, new Log($this->logStream));
        $hooks = $server->hooks()->onReset(static function () use (&$now): void {
            $now += 11; // the worker ages while it waits for the next request
        });
        self::assertSame($hooks, $server->hooks());
        $this->send('/echo');
        $this->send('/echo');
        $this->roadRunner->sendStopCommand();

        $server->serve(new FakeApp());

        self::assertSame('/echo', $this->answer()['uri']);
        self::assertSame(self::STOP, FakeRoadRunner::split($this->roadRunner->receive())[0]);
        self::assertSame('is 11 s old (ttl 10 s)', $manager->recycleReason());
    }

    public function testBadRequestContextFailsOnlyThatRequest(): void
    {
        $this->roadRunner->sendRequest('{not json');
        $this->send('/echo');
        $this->roadRunner->sendStopCommand();

        $this->server()->serve(new FakeApp());

        $error = $this->roadRunner->receive();
        self::assertSame(Frame::ERROR, $error->flags);
        self::assertSame('/echo', $this->answer()['uri']);
    }

    private function server(array $config = [], ?Hooks $hooks = null): Server
    {
        $settings = Config::fromArray($config + ['memory_limit' => 0, 'ttl' => 0], []);

        return new Server($this->http, $settings, $hooks, null, new Log($this->logStream));
    }

    private function send(string $target): void
    {
        $this->roadRunner->sendRequest(FakeRoadRunner::requestContext('GET', $target));
    }

    private function answer(): array
    {
        [$context, $body] = FakeRoadRunner::split($this->roadRunner->receive());
        self::assertStringStartsWith('{"status":200,', $context, $body);

        return json_decode($body, true, 512, JSON_THROW_ON_ERROR);
    }

    private function log(): string
    {
        rewind($this->logStream);

        return (string) stream_get_contents($this->logStream);
    }
}
