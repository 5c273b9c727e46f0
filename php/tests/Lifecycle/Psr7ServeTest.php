<?php

declare(strict_types=1);

namespace PivotPHP\Runtime\RoadRunner\Tests\Lifecycle;

use Nyholm\Psr7\Factory\Psr17Factory;
use PHPUnit\Framework\TestCase;
use PivotPHP\Runtime\RoadRunner\Http\HttpWorker;
use PivotPHP\Runtime\RoadRunner\Http\Psr7Worker;
use PivotPHP\Runtime\RoadRunner\Lifecycle\Config;
use PivotPHP\Runtime\RoadRunner\Lifecycle\Hooks;
use PivotPHP\Runtime\RoadRunner\Lifecycle\Log;
use PivotPHP\Runtime\RoadRunner\Lifecycle\Server;
use PivotPHP\Runtime\RoadRunner\Lifecycle\Psr7Handler;
use PivotPHP\Runtime\RoadRunner\Relay\StreamRelay;
use PivotPHP\Runtime\RoadRunner\Tests\Support\FakeRoadRunner;
use PivotPHP\Runtime\RoadRunner\Worker;
use Psr\Http\Message\ResponseInterface;
use Psr\Http\Message\ServerRequestInterface;

/**
 * Psr7Worker::serve() and Psr7Handler: a plain PSR-15/PSR-7 application gets the same lifecycle (superglobals,
 * output capture, reset, recycling) as the PivotPHP adapter. Uses Debian's nyholm/psr7.
 *
 * @backupGlobals enabled
 */
final class Psr7ServeTest extends TestCase
{
    private Psr7Worker $psr7;
    private FakeRoadRunner $roadRunner;
    private Psr17Factory $factory;

    /** @var resource */
    private $logStream;

    public static function setUpBeforeClass(): void
    {
        $autoload = stream_resolve_include_path('Nyholm/Psr7/autoload.php');
        if ($autoload !== false) {
            require_once $autoload;
        }
    }

    protected function setUp(): void
    {
        if (!class_exists(Psr17Factory::class)) {
            self::markTestSkipped(
                'nyholm/psr7 is not installed (Debian package php-nyholm-psr7): Psr7Worker::serve() is untested',
            );
        }
        [$workerEnd, $roadRunnerEnd] = stream_socket_pair(STREAM_PF_UNIX, STREAM_SOCK_STREAM, STREAM_IPPROTO_IP);
        $this->factory = new Psr17Factory();
        $this->psr7 = Psr7Worker::create(
            $this->factory,
            $this->factory,
            $this->factory,
            HttpWorker::create(new Worker(new StreamRelay($workerEnd, $workerEnd))),
        );
        $this->roadRunner = new FakeRoadRunner(new StreamRelay($roadRunnerEnd, $roadRunnerEnd));
    }

    public function testPsr15HandlerWithLifecycle(): void
    {
        $app = new class ($this->factory) {
            public int $resets = 0;
            public array $seen = [];

            public function __construct(private readonly Psr17Factory $factory)
            {
            }

            public function handle(ServerRequestInterface $request): ResponseInterface
            {
                $this->seen[] = [$_GET, $_COOKIE, $_SERVER['HTTP_X_ID'] ?? null];
                echo 'legacy echo;';

                return $this->factory->createResponse(201)
                    ->withHeader('X-Query', (string) ($request->getQueryParams()['q'] ?? ''))
                    ->withHeader('Set-Cookie', ['a=1', 'b=2'])
                    ->withBody($this->factory->createStream('psr7 body'));
            }

            public function reset(): void
            {
                ++$this->resets;
            }
        };
        $ended = [];
        $hooks = (new Hooks())->onRequestEnd(static function ($request, $response) use (&$ended): void {
            $ended[] = $response->status;
        });
        $this->send('/one?q=first', ['X-Id' => ['1']], ['c' => 'one']);
        $this->send('/two?q=second');
        $this->send('/three');
        $this->roadRunner->sendStopCommand();

        $this->server(['max_requests' => 2], $hooks)->serve(new Psr7Handler($this->psr7, $app));

        [$context, $body] = FakeRoadRunner::split($this->roadRunner->receive());
        self::assertSame('{"status":201,"headers":{"X-Query":["first"],"Set-Cookie":["a=1","b=2"]}}', $context);
        self::assertSame('legacy echo;psr7 body', $body);
        [$context] = FakeRoadRunner::split($this->roadRunner->receive());
        self::assertStringContainsString('"X-Query":["second"]', $context);
        self::assertSame('{"stop":true}', FakeRoadRunner::split($this->roadRunner->receive())[0], 'max_requests 2');

        self::assertSame([[['q' => 'first'], ['c' => 'one'], '1'], [['q' => 'second'], [], null]], $app->seen);
        self::assertSame(2, $app->resets);
        self::assertSame([201, 201], $ended);
    }

    public function testCallableAndWrongReturnType(): void
    {
        $calls = 0;
        $app = function (ServerRequestInterface $request) use (&$calls) {
            return ++$calls === 1 ? 'not a response' : $this->factory->createResponse(204);
        };
        $this->send('/');
        $this->send('/');
        $this->roadRunner->sendStopCommand();

        $this->server()->serve(new Psr7Handler($this->psr7, $app));

        self::assertStringStartsWith('{"status":500', FakeRoadRunner::split($this->roadRunner->receive())[0]);
        self::assertSame('{"status":204,"headers":{}}', FakeRoadRunner::split($this->roadRunner->receive())[0]);
        self::assertStringContainsString('must return a ResponseInterface, got string', $this->log());
    }

    public function testServeUsesTheLifecycle(): void
    {
        $app = function (ServerRequestInterface $request): ResponseInterface {
            return $this->factory->createResponse(200)->withBody($this->factory->createStream(
                $_SERVER['REQUEST_URI'] . ' ' . $request->getMethod(),
            ));
        };
        $started = 0;
        $hooks = (new Hooks())->onRequestStart(static function () use (&$started): void {
            ++$started;
        });
        $this->send('/served?x=1');
        $this->roadRunner->sendStopCommand();

        $this->psr7->serve($app, ['max_requests' => 10, 'memory_limit' => '64M', 'ttl' => '1h'], $hooks);

        self::assertSame('/served?x=1 GET', FakeRoadRunner::split($this->roadRunner->receive())[1]);
        self::assertSame(1, $started);
    }

    public function testRejectsSomethingThatIsNotAnApplication(): void
    {
        $this->expectException(\InvalidArgumentException::class);
        $this->expectExceptionMessage('must be a PSR-15 RequestHandlerInterface or a callable');

        new Psr7Handler($this->psr7, new \stdClass());
    }

    private function server(array $config = [], ?Hooks $hooks = null): Server
    {
        $this->logStream = fopen('php://memory', 'w+b');
        $settings = Config::fromArray($config + ['memory_limit' => 0, 'ttl' => 0], []);

        return new Server($this->psr7->httpWorker(), $settings, $hooks, null, new Log($this->logStream));
    }

    private function log(): string
    {
        rewind($this->logStream);

        return (string) stream_get_contents($this->logStream);
    }

    private function send(string $target, array $headers = [], array $cookies = []): void
    {
        $this->roadRunner->sendRequest(FakeRoadRunner::requestContext('GET', $target, $headers, $cookies));
    }
}
