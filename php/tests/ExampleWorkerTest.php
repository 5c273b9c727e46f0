<?php

declare(strict_types=1);

namespace PivotPHP\Runtime\RoadRunner\Tests;

use PHPUnit\Framework\TestCase;
use PivotPHP\Runtime\RoadRunner\Goridge\Frame;
use PivotPHP\Runtime\RoadRunner\Tests\Support\FakeRoadRunner;
use PivotPHP\Runtime\RoadRunner\Tests\Support\WorkerProcess;

/**
 * examples/hello/worker.php as a real process over pipes, fed request contexts shaped
 * exactly like RoadRunner's (wire-protocol.md §3.2).
 */
final class ExampleWorkerTest extends TestCase
{
    private const SCRIPT = __DIR__ . '/../../examples/hello/worker.php';
    private const JSON = '{"Content-Type":["application/json"]}';

    private WorkerProcess $worker;

    /** @var list<string> */
    private array $tempFiles = [];

    protected function setUp(): void
    {
        $this->worker = new WorkerProcess(self::SCRIPT);
        $this->worker->handshake();
    }

    protected function tearDown(): void
    {
        $this->worker->kill();
        array_map('unlink', $this->tempFiles);
    }

    public function testRoot(): void
    {
        self::assertSame(
            ['{"status":200,"headers":' . self::JSON . '}', '{"ok":true,"runtime":"pivotphp-runtime-roadrunner","pid":' . $this->worker->pid . '}'],
            $this->request('GET', '/'),
        );
    }

    public function testHeadIsRoutedLikeGet(): void
    {
        self::assertSame(['{"status":200,"headers":{"Content-Type":["text/plain"]}}', 'Hello, World!'], $this->request('HEAD', '/hello'));
        self::assertSame('{"status":418}', $this->request('HEAD', '/status/418')[1]);
    }

    public function testHello(): void
    {
        self::assertSame(
            ['{"status":200,"headers":{"Content-Type":["text/plain"]}}', 'Hello, World!'],
            $this->request('GET', '/hello'),
        );
    }

    public function testStreamSendsOneFramePerChunk(): void
    {
        $this->send('GET', '/stream?chunks=3&delay_ms=20');

        $frames = [];
        $times = [];
        do {
            $frame = $this->worker->roadRunner->receive();
            $times[] = microtime(true);
            $frames[] = [$frame->streamFlags, ...FakeRoadRunner::split($frame)];
        } while ($frame->hasStreamFlag(Frame::STREAM));

        self::assertSame([
            [Frame::STREAM, '{"status":200,"headers":{"Content-Type":["text/plain"]}}', "chunk 0\n"],
            [Frame::STREAM, '', "chunk 1\n"],
            [Frame::STREAM, '', "chunk 2\n"],
            [0, '', ''],
        ], $frames);
        self::assertGreaterThan(0.015, $times[1] - $times[0], 'chunks leave as they are produced');
    }

    public function testStreamDefaultsToThreeChunks(): void
    {
        $this->send('GET', '/stream');

        $body = '';
        do {
            $frame = $this->worker->roadRunner->receive();
            $body .= FakeRoadRunner::split($frame)[1];
        } while ($frame->hasStreamFlag(Frame::STREAM));

        self::assertSame("chunk 0\nchunk 1\nchunk 2\n", $body);
    }

    public function testClientGoingAwayStopsTheStream(): void
    {
        $this->send('GET', '/stream?chunks=1000&delay_ms=10');
        self::assertSame(Frame::STREAM, $this->worker->roadRunner->receive()->streamFlags);

        $this->worker->roadRunner->sendStreamFlag(Frame::STOP);
        $count = 1;
        do {
            $frame = $this->worker->roadRunner->receive();
            $count++;
        } while ($frame->hasStreamFlag(Frame::STREAM));

        self::assertSame(['', ''], FakeRoadRunner::split($frame), 'an empty final frame');
        self::assertLessThan(10, $count, 'the stream ended soon after the STOP bit');
        self::assertSame('{"pid":' . $this->worker->pid . '}', $this->request('GET', '/pid')[1]);
    }

    public function testErrorIsAnErrorFrameAndTheWorkerKeepsServing(): void
    {
        $this->send('GET', '/error');
        $error = $this->worker->roadRunner->receive();

        self::assertSame(Frame::ERROR, $error->flags);
        self::assertSame('boom', $error->payload);
        self::assertSame('{"pid":' . $this->worker->pid . '}', $this->request('GET', '/pid')[1]);
        self::assertTrue($this->worker->isRunning());
        self::assertStringContainsString('RuntimeException: boom', $this->worker->stderr());
    }

    public function testEchoedOutputGoesToStderr(): void
    {
        self::assertSame('{"ok":true}', $this->request('GET', '/echo-output')[1]);
        self::assertSame('{"ok":true}', $this->request('GET', '/echo-output')[1], 'STDOUT is still in sync');

        $this->worker->roadRunner->sendStopCommand();
        self::assertSame(0, $this->worker->waitForExit());
        self::assertSame('', $this->worker->remainingStdout(), 'only frames were written to STDOUT');
        self::assertSame(2, substr_count($this->worker->stderr(), "stray output\n"));
    }

    public function testGarbageReachesStdout(): void
    {
        $this->send('GET', '/garbage');
        [, $stdout] = $this->worker->stdio();

        // RoadRunner would fail the CRC here and replace the worker; we check what it sees.
        self::assertSame("this is not a goridge frame\n", fread($stdout, 28));
        self::assertSame('{"ok":true}', FakeRoadRunner::split($this->worker->roadRunner->receive())[1]);
    }

    public function testExitKillsTheWorkerMidRequest(): void
    {
        $this->send('GET', '/exit');

        self::assertSame(1, $this->worker->waitForExit());
        self::assertSame('', $this->worker->remainingStdout(), 'no response was written');
    }

    public function testQueryHeadersAndCookies(): void
    {
        self::assertSame(
            '{"query":{"a":{"b":"1"},"c":["2"]},"rawQuery":"a[b]=1&c[]=2"}',
            $this->request('GET', '/query?a[b]=1&c[]=2')[1],
        );
        self::assertSame('{"query":{},"rawQuery":""}', $this->request('GET', '/query')[1]);
        self::assertSame(
            '{"headers":{"X-Multi":["one","two"]},"host":"127.0.0.1:8080"}',
            $this->request('GET', '/headers', ['X-Multi' => ['one', 'two']])[1],
        );
        self::assertSame(
            ['{"status":200,"headers":{"Content-Type":["application/json"],"Set-Cookie":["a=1; Path=/","b=2; Path=/; HttpOnly"]}}', '{"cookies":{"sess":"abc def"}}'],
            $this->request('GET', '/cookies', ['Cookie' => ['sess=abc%20def']], cookies: ['sess' => 'abc def']),
        );
    }

    public function testStatusRoute(): void
    {
        self::assertSame(['{"status":418,"headers":' . self::JSON . '}', '{"status":418}'], $this->request('GET', '/status/418'));
        self::assertSame(['{"status":204,"headers":{}}', ''], $this->request('GET', '/status/204'));
        self::assertSame(['{"status":304,"headers":{}}', ''], $this->request('GET', '/status/304'));
        self::assertSame('{"status":503}', $this->request('GET', '/status/503')[1]);
        self::assertStringStartsWith('{"status":400,', $this->request('GET', '/status/999')[0]);
    }

    public function testJsonRoute(): void
    {
        self::assertSame(
            '{"json":{"a":[1,2],"u":"ünï","empty":{},"list":[]}}',
            $this->request('POST', '/json', body: '{"a":[1,2],"u":"ünï","empty":{},"list":[]}')[1],
        );
        self::assertSame(
            ['{"status":400,"headers":' . self::JSON . '}', '{"error":"invalid JSON: Syntax error"}'],
            $this->request('POST', '/json', body: '{"a":'),
        );
    }

    public function testFormRoute(): void
    {
        self::assertSame(
            '{"parsed":true,"form":{"b":["x","y"],"c":{"d":"e"},"sp":"hello world!","a":"2"}}',
            $this->request('POST', '/form', body: '{"b":["x","y"],"c":{"d":"e"},"sp":"hello world!","a":"2"}', parsed: true)[1],
        );
        self::assertSame('{"parsed":true,"form":{}}', $this->request('POST', '/form', body: '{}', parsed: true)[1]);
        self::assertSame('{"parsed":false,"form":null}', $this->request('POST', '/form', body: 'raw')[1]);
    }

    public function testUploadRoute(): void
    {
        $doc = $this->tempFile('hello world');
        $uploads = [
            'doc' => ['name' => 'hello.txt', 'mime' => 'text/plain', 'size' => 11, 'error' => 0, 'tmpName' => $doc],
            'many' => [['name' => 'a.txt', 'mime' => 'text/plain', 'size' => 1, 'error' => 0, 'tmpName' => $this->tempFile('a')]],
            'evil' => ['name' => 'shell.php', 'mime' => 'application/octet-stream', 'size' => 0, 'error' => 8, 'tmpName' => ''],
        ];

        $body = $this->request('POST', '/upload', body: '{"title":"big"}', parsed: true, uploads: $uploads)[1];

        self::assertSame([
            'form' => ['title' => 'big'],
            'files' => [
                'doc' => ['name' => 'hello.txt', 'mime' => 'text/plain', 'size' => 11, 'error' => 0, 'sha256' => hash('sha256', 'hello world')],
                'many' => [['name' => 'a.txt', 'mime' => 'text/plain', 'size' => 1, 'error' => 0, 'sha256' => hash('sha256', 'a')]],
                'evil' => ['name' => 'shell.php', 'mime' => 'application/octet-stream', 'size' => 0, 'error' => 8, 'sha256' => null],
            ],
        ], json_decode($body, true));
    }

    public function testBytesAndEcho(): void
    {
        self::assertSame(['{"status":200,"headers":{"Content-Type":["application/octet-stream"]}}', 'xxxxx'], $this->request('GET', '/bytes?size=5'));
        self::assertSame(1024, strlen($this->request('GET', '/bytes')[1]));
        self::assertStringStartsWith('{"status":400,', $this->request('GET', '/bytes?size=52428801')[0]);

        $raw = "raw\0bytes";
        [$context, $body] = $this->request('POST', '/echo', body: $raw);
        self::assertSame($raw, $body);
        self::assertSame(
            ['status' => 200, 'headers' => ['Content-Type' => ['application/octet-stream'], 'X-Body-Sha256' => [hash('sha256', $raw)]]],
            json_decode($context, true),
        );
    }

    public function testSleepAndNotFound(): void
    {
        $start = microtime(true);
        self::assertSame('{"slept":50}', $this->request('GET', '/sleep?ms=50')[1]);
        self::assertGreaterThanOrEqual(0.05, microtime(true) - $start);

        self::assertSame(
            ['{"status":404,"headers":' . self::JSON . '}', '{"error":"not found","path":"/nope/x"}'],
            $this->request('GET', '/nope/x?y=1'),
        );
        self::assertSame('{"error":"not found","path":"/hello"}', $this->request('POST', '/hello')[1], 'routes match the method too');
    }

    /**
     * @param array<string, list<string>> $headers
     * @param array<string, string>       $cookies
     *
     * @return array{0: string, 1: string} response context and body
     */
    private function request(
        string $method,
        string $target,
        array $headers = [],
        string $body = '',
        bool $parsed = false,
        ?array $uploads = null,
        array $cookies = [],
    ): array {
        $this->send($method, $target, $headers, $body, $parsed, $uploads, $cookies);
        $frame = $this->worker->roadRunner->receive();
        self::assertSame(0, $frame->flags, 'a normal response frame, got: ' . $frame->payload);

        return FakeRoadRunner::split($frame);
    }

    private function send(
        string $method,
        string $target,
        array $headers = [],
        string $body = '',
        bool $parsed = false,
        ?array $uploads = null,
        array $cookies = [],
    ): void {
        $context = FakeRoadRunner::requestContext($method, $target, $headers, $cookies, $parsed, $uploads);
        $this->worker->roadRunner->sendRequest($context, $body);
    }

    private function tempFile(string $content): string
    {
        $file = (string) tempnam(sys_get_temp_dir(), 'upload');
        file_put_contents($file, $content);
        $this->tempFiles[] = $file;

        return $file;
    }
}
