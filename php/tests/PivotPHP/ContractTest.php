<?php

declare(strict_types=1);

namespace PivotPHP\Runtime\RoadRunner\Tests\PivotPHP;

use PHPUnit\Framework\TestCase;
use PivotPHP\Runtime\RoadRunner\Tests\Support\FakeRoadRunner;
use PivotPHP\Runtime\RoadRunner\Tests\Support\WorkerProcess;

/**
 * The adapter against a real PivotPHP core (1.x or 2.x): php/tests/fixtures/pivotphp-core-worker.php
 * runs as a real worker process over pipes, with the core named by PIVOTPHP_AUTOLOAD (an installed
 * core's vendor/autoload.php). Without it every case is SKIPPED — a skip is not a pass.
 *
 * The worker process has no PHPUnit on its autoloader, so PivotPHP runs in its production mode
 * (Response::json() echoes, streaming pops output buffers), as it would under RoadRunner.
 */
final class ContractTest extends TestCase
{
    private const SCRIPT = __DIR__ . '/../fixtures/pivotphp-core-worker.php';

    private static ?string $autoload = null;

    private WorkerProcess $worker;

    /** @var list<string> */
    private array $tempFiles = [];

    public static function setUpBeforeClass(): void
    {
        $autoload = getenv('PIVOTPHP_AUTOLOAD');
        if (is_string($autoload) && is_file($autoload)) {
            self::$autoload = $autoload;

            return;
        }
        fwrite(STDERR, sprintf(
            "\n*** PivotPHP ContractTest SKIPPED: %s ***\n",
            self::skipReason(),
        ));
    }

    protected function setUp(): void
    {
        if (self::$autoload === null) {
            self::markTestSkipped(self::skipReason());
        }
        $this->worker = $this->start();
    }

    protected function tearDown(): void
    {
        if (isset($this->worker)) {
            $this->worker->kill();
        }
        array_map('unlink', $this->tempFiles);
    }

    public function testRouteParamsQueryHeadersAndMiddleware(): void
    {
        [$status, $headers, $data] = $this->json('GET', '/users/42?q=search', [
            'User-Agent' => ['contract-test'],
            'X-Custom' => ['custom value'],
        ]);

        self::assertSame(200, $status);
        self::assertSame(42, $data['id'], 'numeric :params are cast to int by PivotPHP');
        self::assertSame('search', $data['q']);
        self::assertSame('contract-test', $data['user_agent']);
        self::assertSame('custom value', $data['custom']);
        self::assertSame('/users/42', $data['path']);
        self::assertSame(['ran'], $headers['X-Middleware']);
        self::assertSame(['application/json; charset=utf-8'], $headers['Content-Type']);
        self::assertSame(['pivotphp-rr'], $headers['X-Adapter'], 'onRequestEnd listener');
    }

    public function testJsonBodiesAreReadAsReqBodyAndNeverRepeated(): void
    {
        foreach (['Ada', 'Grace', 'Edsger'] as $name) {
            $body = json_encode(['name' => $name, 'tags' => [$name]]);
            [$status, , $data] = $this->json('POST', '/users', ['Content-Type' => ['application/json']], $body);

            self::assertSame(201, $status);
            self::assertSame(['name' => $name, 'tags' => [$name]], $data['body'], '$req->body');
            self::assertSame($name, $data['name'], '$req->input()');
            self::assertSame(['name' => $name, 'tags' => [$name]], $data['parsed'], 'getParsedBody()');
            self::assertSame($body, $data['raw'], 'getBody()');
            self::assertSame('application/json', $data['content_type'], "header('contentType')");
        }
    }

    public function testUrlencodedForm(): void
    {
        [$status, , $data] = $this->json(
            'POST',
            '/form',
            ['Content-Type' => ['application/x-www-form-urlencoded']],
            '{"title":"Hello","list":["a","b"]}',
            parsed: true,
        );

        self::assertSame(200, $status);
        self::assertSame(['title' => 'Hello', 'list' => ['a', 'b']], $data['body']);
        self::assertSame(['title' => 'Hello', 'list' => ['a', 'b']], $data['post']);
        self::assertSame(['title' => 'Hello', 'list' => ['a', 'b']], $data['parsed']);
    }

    public function testMultipartUpload(): void
    {
        $file = (string) tempnam(sys_get_temp_dir(), 'upload');
        file_put_contents($file, 'uploaded bytes');
        $this->tempFiles[] = $file;

        [$status, , $data] = $this->json(
            'POST',
            '/upload',
            ['Content-Type' => ['multipart/form-data; boundary=x']],
            '{"caption":"a file"}',
            parsed: true,
            uploads: ['doc' => ['name' => 'notes.txt', 'mime' => 'text/plain', 'size' => 14, 'error' => 0, 'tmpName' => $file]],
        );

        self::assertSame(200, $status);
        self::assertSame('notes.txt', $data['file']['name']);
        self::assertSame($file, $data['file']['tmp_name']);
        self::assertSame(14, $data['file']['size']);
        self::assertSame('uploaded bytes', $data['content']);
        self::assertSame(['caption' => 'a file'], $data['fields']);
    }

    public function testTextAndStatusCodes(): void
    {
        [$status, $headers, $body] = $this->exchange('GET', '/text');
        self::assertSame([200, 'plain text from PivotPHP'], [$status, $body]);
        self::assertSame(['text/plain; charset=utf-8'], $headers['Content-Type']);

        [$status, , $data] = $this->json('GET', '/teapot');
        self::assertSame([418, ['teapot' => true]], [$status, $data]);
    }

    public function testNotFound(): void
    {
        [$status, $headers, $data] = $this->json('GET', '/no/such/route');

        self::assertSame(404, $status);
        self::assertSame('Not Found', $data['message']);
        self::assertArrayHasKey('error_id', $data);
        self::assertArrayNotHasKey('X-Middleware', $headers, 'PivotPHP skips middleware when no route matched');
        self::assertSame(200, $this->json('GET', '/')[0]);
    }

    public function testExceptionGives500AndTheWorkerKeepsServing(): void
    {
        [$status, , $data] = $this->json('GET', '/boom');

        self::assertSame(500, $status);
        self::assertSame('Internal Server Error', $data['message']);
        self::assertStringNotContainsString('contract boom', json_encode($data), 'no details outside debug mode');
        [$status, , $data] = $this->json('GET', '/users/7');
        self::assertSame([200, 7], [$status, $data['id']]);
        self::assertTrue($this->worker->isRunning());
        self::assertStringContainsString(
            'GET /boom answered 500 by the application (error_id ' . '',
            $this->worker->stderr(),
        );
    }

    public function testStreamedEventsAreCapturedAndStdoutStaysClean(): void
    {
        [$status, $headers, $body] = $this->exchange('GET', '/stream');

        self::assertSame(200, $status);
        self::assertSame(['text/event-stream'], $headers['Content-Type']);
        foreach (['one', 'two', 'three'] as $i => $event) {
            self::assertStringContainsString("event: tick\ndata: {\"n\":$i,\"event\":\"$event\"}\n\n", $body);
        }
        self::assertSame(200, $this->json('GET', '/')[0], 'the next frame decodes: nothing leaked on STDOUT');
    }

    public function testPrintedOutputHeaderAndSetcookieDoNotBreakTheWorker(): void
    {
        for ($i = 0; $i < 3; ++$i) {
            [$status, , $body] = $this->exchange('GET', '/echo');
            self::assertSame([200, 'printed by the handler;text body'], [$status, $body]);
        }
        [$status, , $data] = $this->json('GET', '/');
        self::assertSame(200, $status);
        self::assertSame($this->worker->pid, $data['pid']);
    }

    public function testCookiesClientAddressAndSetCookieHeader(): void
    {
        [$status, $headers, $data] = $this->json(
            'GET',
            '/cookie',
            ['Cookie' => ['a=1; b=two']],
            '',
            cookies: ['a' => '1', 'b' => 'two'],
            remoteAddr: '10.1.2.3',
        );

        self::assertSame(200, $status);
        self::assertSame(['a' => '1', 'b' => 'two'], $data['cookies']);
        self::assertSame('10.1.2.3', $data['ip']);
        self::assertFalse($data['secure']);
        self::assertSame(['flavor=chocolate; Path=/'], $headers['Set-Cookie']);

        [, , $data] = $this->json('GET', '/cookie');
        self::assertSame([], $data['cookies'], "the previous request's cookies are gone");
    }

    public function testPooledRequestsDoNotLeakHeadersOrServerParams(): void
    {
        // Warm PivotPHP's Psr7Pool with other requests first: a reused pooled request used to keep
        // the headers of the request it was built for.
        $this->json('GET', '/users/1', ['X-Secret' => ['from-an-earlier-request']]);
        $this->json('POST', '/users', ['Content-Type' => ['application/json']], '{"name":"x"}');

        [, , $data] = $this->json('GET', '/secret?k=1', ['X-Secret' => ['s3cr3t']]);
        self::assertSame(['line' => 's3cr3t', 'server' => 's3cr3t', 'query' => ['k' => '1']], $data);

        [, , $data] = $this->json('GET', '/secret');
        self::assertSame(['line' => '', 'server' => null, 'query' => []], $data);
    }

    public function testManyRequestsEachSeeOnlyTheirOwnValues(): void
    {
        for ($i = 0; $i < 40; ++$i) {
            $marker = 'm' . $i . '-' . bin2hex(random_bytes(2));
            if ($i % 2 === 0) {
                [$status, , $data] = $this->json('GET', "/users/$i?q=$marker", ['X-Custom' => [$marker]]);
                self::assertSame([200, $i, $marker, $marker], [$status, $data['id'], $data['q'], $data['custom']]);
            } else {
                $body = json_encode(['name' => $marker]);
                [$status, , $data] = $this->json('POST', '/users', ['Content-Type' => ['application/json']], $body);
                self::assertSame([201, $marker, ['name' => $marker]], [$status, $data['name'], $data['parsed']]);
            }
        }
    }

    public function testMemoryStaysFlatOverThousandsOfRequests(): void
    {
        $this->worker->kill();
        $this->worker = $this->start(['PIVOT_MAX_REQUESTS' => '0']); // the default 1000 would recycle it
        $request = function (int $i): void {
            $this->json('POST', "/users?i=$i", [
                'Content-Type' => ['application/json'],
                'X-Request-Id' => [uniqid('', true)],
            ], json_encode(['name' => "n$i"]));
        };
        for ($i = 0; $i < 300; ++$i) {
            $request($i);
        }
        $before = $this->json('GET', '/metrics')[2]['memory_after_last_request_bytes'];

        for ($i = 0; $i < 5000; ++$i) {
            $request($i);
        }
        $after = $this->json('GET', '/metrics')[2]['memory_after_last_request_bytes'];

        self::assertLessThan(64 * 1024, $after - $before, sprintf('memory grew from %d to %d bytes', $before, $after));
    }

    public function testRecyclesAfterMaxRequestsAndExposesMetrics(): void
    {
        $this->worker->kill();
        $this->worker = $this->start(['PIVOT_MAX_REQUESTS' => '3']);

        $this->json('GET', '/');
        [, , $metrics] = $this->json('GET', '/metrics');
        self::assertSame(1, $metrics['requests'], 'counted after each response: the metrics request is the 2nd');
        self::assertSame(3, $metrics['max_requests']);
        self::assertSame($this->worker->pid, $metrics['pid']);
        self::assertFalse($metrics['recycling']);

        $this->json('GET', '/');
        [$context, $body] = $this->worker->roadRunner->exchange(FakeRoadRunner::requestContext('GET', '/'));
        self::assertSame(['{"stop":true}', ''], [$context, $body], 'the 4th request is handed back to RoadRunner');

        $this->worker->roadRunner->sendStopCommand();
        self::assertSame(0, $this->worker->waitForExit());
        self::assertStringContainsString('served 3 requests (max_requests 3)', $this->worker->stderr());
    }

    private static function skipReason(): string
    {
        $autoload = getenv('PIVOTPHP_AUTOLOAD');
        if (!is_string($autoload) || $autoload === '') {
            return 'PIVOTPHP_AUTOLOAD is not set; point it at an installed pivotphp/core\'s vendor/autoload.php'
                . ' (core ^1.1 || ^2.0 with psr/http-message 1.1) to run the contract test against a real core';
        }

        return sprintf('PIVOTPHP_AUTOLOAD=%s is not a file', $autoload);
    }

    private function start(array $env = []): WorkerProcess
    {
        $worker = new WorkerProcess(self::SCRIPT, $env + ['PIVOTPHP_AUTOLOAD' => (string) self::$autoload]);
        $worker->handshake();

        return $worker;
    }

    /** @return array{0: int, 1: array<string, list<string>>, 2: string} */
    private function exchange(string $method, string $target, array $headers = [], string $body = '', mixed ...$context): array
    {
        [$responseContext, $responseBody] = $this->worker->roadRunner->exchange(
            FakeRoadRunner::requestContext($method, $target, $headers, ...$context),
            $body,
        );
        $decoded = json_decode($responseContext, true, 512, JSON_THROW_ON_ERROR);

        return [$decoded['status'], $decoded['headers'], $responseBody];
    }

    /** @return array{0: int, 1: array<string, list<string>>, 2: mixed} */
    private function json(string $method, string $target, array $headers = [], string $body = '', mixed ...$context): array
    {
        [$status, $responseHeaders, $responseBody] = $this->exchange($method, $target, $headers, $body, ...$context);

        return [$status, $responseHeaders, json_decode($responseBody, true, 512, JSON_THROW_ON_ERROR)];
    }
}
