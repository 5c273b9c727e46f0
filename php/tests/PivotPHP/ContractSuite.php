<?php

declare(strict_types=1);

namespace PivotPHP\Runtime\RoadRunner\Tests\PivotPHP;

use PHPUnit\Framework\TestCase;
use PivotPHP\Runtime\RoadRunner\Tests\Support\FakeRoadRunner;
use PivotPHP\Runtime\RoadRunner\Tests\Support\WorkerProcess;

/**
 * The no-state-bleed contract every PivotPHP core line the adapter serves must pass: a worker
 * script (a PivotPHP app served by RoadRunnerAdapter) runs as a real process over pipes, and each
 * request must see only its own route params, query, headers, body, uploads, cookies, server
 * params, container bindings and error handlers, with memory flat over thousands of requests and
 * clean recycling. Each subclass names one core line's worker and the core it runs on:
 *
 * - ContractTest: 1.x-3.x style (hybrid path), a real core from PIVOTPHP_AUTOLOAD;
 * - Core5ContractTest: 4.x/5.x style (PSR-15 path), a real core from PIVOTPHP5_AUTOLOAD;
 * - FakeCore5ContractTest: the PSR-15 path on the fake core-5-shaped app in fixtures/fake-core5
 *   (runs everywhere; not a real-core contract).
 *
 * Without its core a subclass is SKIPPED, loudly — a skip is not a pass.
 */
abstract class ContractSuite extends TestCase
{
    protected WorkerProcess $worker;

    /** @var list<string> */
    private array $tempFiles = [];

    /** The worker script (in php/tests/fixtures). */
    abstract protected static function script(): string;

    /** The core's autoloader, or null when it cannot be had here (the suite is then skipped). */
    abstract protected static function autoload(): ?string;

    /** Why autoload() is null: what to set to run this suite. */
    abstract protected static function skipReason(): string;

    public static function setUpBeforeClass(): void
    {
        if (static::autoload() === null) {
            fwrite(STDERR, sprintf("\n*** PivotPHP %s SKIPPED: %s ***\n", (new \ReflectionClass(static::class))->getShortName(), static::skipReason()));
        }
    }

    protected function setUp(): void
    {
        if (static::autoload() === null) {
            self::markTestSkipped(static::skipReason());
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

    public function testNotFoundIsAJsonErrorAndTheWorkerKeepsServing(): void
    {
        [$status, , $data] = $this->json('GET', '/no/such/route');

        self::assertSame(404, $status);
        self::assertSame('Not Found', $data['message']);
        self::assertArrayHasKey('error_id', $data);
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

    public function testContainerBindingsMadeInARequestDoNotReachTheNext(): void
    {
        self::assertSame([200, ['bound' => null]], $this->pair($this->json('GET', '/bound')));
        self::assertSame([200, ['bound' => 'alice']], $this->pair($this->json('GET', '/bind/alice')));
        self::assertSame([200, ['bound' => null]], $this->pair($this->json('GET', '/bound')), "the previous request's binding is gone");
        self::assertSame([200, ['bound' => 'bob']], $this->pair($this->json('GET', '/bind/bob')));
        self::assertSame([200, ['bound' => null]], $this->pair($this->json('GET', '/bound')));
    }

    public function testErrorHandlersInstalledInARequestDoNotReachTheNext(): void
    {
        [, , $atBoot] = $this->json('GET', '/handler');
        self::assertSame(['installed' => true], $this->json('GET', '/handler/install')[2]);
        self::assertSame($atBoot, $this->json('GET', '/handler')[2], 'the handlers are back to what the app installed at boot');
    }

    public function testMemoryStaysFlatOverThousandsOfRequests(): void
    {
        $this->worker->kill();
        $this->worker = $this->start(['PIVOT_MAX_REQUESTS' => '0']); // the default 1000 would recycle it
        // Unique header values (PivotPHP 1.x/2.x pooled them) and unique URLs (the static router of
        // core-routing 1.x cached every path it matched: +16 MB per 10 000 paths without the reset).
        $request = function (int $i): void {
            $this->json('POST', "/users?i=$i", [
                'Content-Type' => ['application/json'],
                'X-Request-Id' => [uniqid('', true)],
            ], json_encode(['name' => "n$i"]));
            $this->json('GET', '/users/' . (100000 + $i), ['X-Request-Id' => [uniqid('', true)]]);
        };
        // The warm-up passes PHP's own PCRE cache (4096 patterns, then it evicts): core 1.x-3.x build
        // one regex per request path (Request::createFromGlobals() parses the path as its own
        // pattern), which fills that bounded cache first, under PHP-FPM as here.
        for ($i = 0; $i < 4300; ++$i) {
            $request($i);
        }
        $before = $this->json('GET', '/metrics')[2]['memory_after_last_request_bytes'];

        for ($i = 4300; $i < 7300; ++$i) {
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

    protected function start(array $env = []): WorkerProcess
    {
        $worker = new WorkerProcess(
            __DIR__ . '/../fixtures/' . static::script(),
            $env + ['PIVOTPHP_AUTOLOAD' => (string) static::autoload()],
        );
        $worker->handshake();

        return $worker;
    }

    /** @return array{0: int, 1: mixed} status and decoded body */
    protected function pair(array $exchange): array
    {
        return [$exchange[0], $exchange[2]];
    }

    /** @return array{0: int, 1: array<string, list<string>>, 2: string} */
    protected function exchange(string $method, string $target, array $headers = [], string $body = '', mixed ...$context): array
    {
        [$responseContext, $responseBody] = $this->worker->roadRunner->exchange(
            FakeRoadRunner::requestContext($method, $target, $headers, ...$context),
            $body,
        );
        $decoded = json_decode($responseContext, true, 512, JSON_THROW_ON_ERROR);

        return [$decoded['status'], $decoded['headers'], $responseBody];
    }

    /** @return array{0: int, 1: array<string, list<string>>, 2: mixed} */
    protected function json(string $method, string $target, array $headers = [], string $body = '', mixed ...$context): array
    {
        [$status, $responseHeaders, $responseBody] = $this->exchange($method, $target, $headers, $body, ...$context);

        return [$status, $responseHeaders, json_decode($responseBody, true, 512, JSON_THROW_ON_ERROR)];
    }
}
