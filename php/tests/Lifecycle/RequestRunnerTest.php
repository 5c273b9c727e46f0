<?php

declare(strict_types=1);

namespace PivotPHP\Runtime\RoadRunner\Tests\Lifecycle;

use PHPUnit\Framework\TestCase;
use PivotPHP\Runtime\RoadRunner\Http\Request;
use PivotPHP\Runtime\RoadRunner\Lifecycle\Hooks;
use PivotPHP\Runtime\RoadRunner\Lifecycle\Log;
use PivotPHP\Runtime\RoadRunner\Lifecycle\RequestRunner;
use PivotPHP\Runtime\RoadRunner\Lifecycle\Response;
use PivotPHP\Runtime\RoadRunner\Tests\Support\CallbackHandler;
use PivotPHP\Runtime\RoadRunner\Tests\Support\FakeApp;

/**
 * The request scope in process: superglobals for the whole call, output captured, failures as
 * 500s. (Sessions and header()/setcookie() need a clean SAPI: see StateBleedTest.)
 *
 * @backupGlobals enabled
 */
final class RequestRunnerTest extends TestCase
{
    /** @var resource */
    private $logStream;
    private Hooks $hooks;
    private RequestRunner $runner;
    private int $level;

    protected function setUp(): void
    {
        $this->logStream = fopen('php://memory', 'w+b');
        $this->hooks = new Hooks();
        $this->runner = new RequestRunner($this->hooks, new Log($this->logStream));
        $this->level = ob_get_level();
    }

    protected function tearDown(): void
    {
        self::assertSame($this->level, ob_get_level(), 'the runner leaves no output buffer behind');
    }

    public function testSuperglobalsLastForTheWholeCallAndAreRestored(): void
    {
        $_GET = ['worker' => 'base'];
        $before = $_SERVER;
        $this->runner = new RequestRunner($this->hooks, new Log($this->logStream)); // base state: now
        $seen = [];
        $this->hooks->onRequestStart(static function () use (&$seen): void {
            $seen['start'] = $_GET;
        });
        $this->hooks->onRequestEnd(static function () use (&$seen): void {
            $seen['end'] = $_SERVER['REQUEST_URI'];
        });
        $handler = new CallbackHandler(static function (Request $request) use (&$seen): Response {
            $seen['handle'] = [$_SERVER['REQUEST_METHOD'], $_GET, $_COOKIE, $_SERVER['HTTP_X_ID']];

            // Lazy framework code reads them again later in the same call.
            return new Response(200, [], (string) json_encode($_GET));
        });

        $response = $this->runner->run($this->request('/a?id=1', ['X-Id' => ['one']], ['c' => '1']), $handler);

        self::assertSame(['id' => '1'], $seen['start']);
        self::assertSame(['PUT', ['id' => '1'], ['c' => '1'], 'one'], $seen['handle']);
        self::assertSame('/a?id=1', $seen['end']);
        self::assertSame('{"id":"1"}', $response->body);
        self::assertSame(['worker' => 'base'], $_GET);
        self::assertSame($before, $_SERVER);
    }

    public function testPrintedBodyIsTheResponseBody(): void
    {
        $response = $this->runner->run($this->request('/echo?x=1'), new FakeApp());

        self::assertSame(200, $response->status);
        $data = json_decode($response->body, true);
        self::assertSame(['x' => '1'], $data['get']);
        self::assertSame('PUT', $data['method']);
    }

    public function testStrayOutputPrecedesTheBody(): void
    {
        $response = $this->runner->run($this->request('/print'), new FakeApp());

        self::assertSame('printed and body', $response->body);
        self::assertSame('16', $response->header('Content-Length'));
    }

    public function testStreamingHandlerPoppingBuffersIsCaptured(): void
    {
        $response = $this->runner->run($this->request('/stream'), new FakeApp());

        self::assertSame("data: one\n\ndata: two\n\ndata: three\n\n", $response->body);
        self::assertSame('text/event-stream', $response->header('Content-Type'));
    }

    public function testExceptionBecomesA500AndIsLogged(): void
    {
        $errors = [];
        $this->hooks->onError(static function (\Throwable $e) use (&$errors): void {
            $errors[] = $e->getMessage();
        });
        $_POST = ['worker' => 'base'];
        $this->runner = new RequestRunner($this->hooks, new Log($this->logStream));

        $response = $this->runner->run($this->request('/boom'), new FakeApp());

        self::assertSame(500, $response->status);
        self::assertSame('{"error":"Internal Server Error"}', $response->body);
        self::assertSame(['boom from the fake app'], $errors);
        self::assertSame(['worker' => 'base'], $_POST, 'restored after a failure too');
        rewind($this->logStream);
        $log = (string) stream_get_contents($this->logStream);
        self::assertStringContainsString('PUT /boom failed with a 500: RuntimeException: boom from the fake app', $log);
        self::assertSame(1, substr_count($log, "\n"), 'one line per message');
    }

    public function testOutputPrintedBeforeAFailureIsDropped(): void
    {
        $handler = new CallbackHandler(static function (): Response {
            echo 'half a page';
            throw new \RuntimeException('failed midway');
        });

        $response = $this->runner->run($this->request('/'), $handler);

        self::assertSame(500, $response->status);
        self::assertStringNotContainsString('half a page', $response->body);
    }

    public function testDebugModeShowsTheException(): void
    {
        $runner = new RequestRunner($this->hooks, new Log($this->logStream), true);

        $response = $runner->run($this->request('/boom'), new FakeApp());

        self::assertSame('boom from the fake app', json_decode($response->body, true)['message']);
    }

    public function testInvalidStatusBecomesA500(): void
    {
        $response = $this->runner->run($this->request('/'), new CallbackHandler(static fn (): Response => new Response(999)));

        self::assertSame(500, $response->status);
        rewind($this->logStream);
        self::assertStringContainsString('HTTP status 999, outside 100-599', (string) stream_get_contents($this->logStream));
    }

    public function testFailingRequestStartListenerFailsOnlyThatRequest(): void
    {
        $fail = true;
        $this->hooks->onRequestStart(static function () use (&$fail): void {
            if ($fail) {
                throw new \RuntimeException('listener failed');
            }
        });
        $app = new FakeApp();

        self::assertSame(500, $this->runner->run($this->request('/echo'), $app)->status);
        $fail = false;
        self::assertSame(200, $this->runner->run($this->request('/echo'), $app)->status);
    }

    private function request(string $target, array $headers = [], array $cookies = []): Request
    {
        $query = (string) parse_url($target, PHP_URL_QUERY);
        parse_str($query, $parsed);

        return new Request('127.0.0.1', 'HTTP/1.1', 'PUT', 'http://localhost' . $target, $headers, $cookies, $query, $parsed);
    }
}
