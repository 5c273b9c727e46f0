<?php

declare(strict_types=1);

namespace PivotPHP\Runtime\RoadRunner\Tests\Lifecycle;

use PHPUnit\Framework\TestCase;
use PivotPHP\Runtime\RoadRunner\Tests\Support\FakeRoadRunner;
use PivotPHP\Runtime\RoadRunner\Tests\Support\WorkerProcess;

/**
 * "No state bleed", in the spirit of Octane's *StateTest: one real worker process (pipes, output
 * guard, `display_errors=stdout` on the command line) serves the FakeApp test double through the
 * runtime; consecutive requests with different headers, bodies, cookies, query strings, uploads
 * and sessions must each see only their own. Every frame read from STDOUT is CRC-checked, so a
 * stray byte fails the test.
 */
final class StateBleedTest extends TestCase
{
    private const SCRIPT = __DIR__ . '/../fixtures/fake-app-worker.php';

    private WorkerProcess $worker;
    private string $sessionDir;

    /** @var list<string> */
    private array $tempFiles = [];

    protected function setUp(): void
    {
        $this->sessionDir = sys_get_temp_dir() . '/pivot-rr-sessions-' . bin2hex(random_bytes(4));
        mkdir($this->sessionDir);
        $this->worker = $this->start();
    }

    protected function tearDown(): void
    {
        $this->worker->kill();
        array_map('unlink', [...$this->tempFiles, ...glob($this->sessionDir . '/*')]);
        rmdir($this->sessionDir);
    }

    public function testConsecutiveRequestsSeeOnlyTheirOwnState(): void
    {
        for ($i = 0; $i < 30; ++$i) {
            $kind = ['json', 'form', 'multipart', 'get'][$i % 4];
            $marker = sprintf('req%02d-%s', $i, bin2hex(random_bytes(3)));
            [$context, $body] = $this->requestFor($kind, $marker, $i);

            [$status, $headers, $data] = $this->exchange($context, $body);

            self::assertSame(200, $status, "request $i");
            self::assertSame(['application/json'], $headers['Content-Type']);
            self::assertSame("/echo?id=$marker&n=$i", $data['uri']);
            self::assertSame(['id' => $marker, 'n' => (string) $i], $data['get']);
            self::assertSame(['session' => "sess-$marker"], $data['cookies']);
            self::assertSame("session=sess-$marker", $data['headers']['HTTP_COOKIE']);
            self::assertSame($marker, $data['headers']['HTTP_X_REQUEST_ID']);
            self::assertSame("10.0.0.$i", $data['remote_addr']);
            self::assertFalse($data['session_active']);
            $own = array_filter(array_keys($data['headers']), static fn (string $k): bool => str_starts_with($k, 'HTTP_X_ONLY_'));
            self::assertSame(['HTTP_X_ONLY_' . $i], array_values($own), 'no header of an earlier request');

            switch ($kind) {
                case 'json':
                    self::assertSame('{"marker":"' . $marker . '"}', $data['raw_body']);
                    self::assertSame('application/json', $data['content_type']);
                    self::assertSame('application/json', $data['headers']['HTTP_CONTENT_TYPE']);
                    self::assertSame([], $data['post']);
                    self::assertSame([], $data['files']);
                    break;
                case 'form':
                    self::assertSame(['marker' => $marker, 'list' => ['a', (string) $i]], $data['post']);
                    self::assertSame($marker, $data['request']['marker']);
                    self::assertSame([], $data['files']);
                    break;
                case 'multipart':
                    self::assertSame(['marker' => $marker], $data['post']);
                    self::assertSame("upload-$marker.txt", $data['files']['doc']['name']);
                    self::assertSame(["contents of $marker"], $data['upload_contents']);
                    break;
                case 'get':
                    self::assertSame('', $data['raw_body']);
                    self::assertSame([], $data['post']);
                    self::assertNull($data['content_type']);
                    self::assertNull($data['content_length']);
                    break;
            }
        }
        self::assertTrue($this->worker->isRunning());
    }

    public function testSessionsAreIsolatedPerClientAndPersist(): void
    {
        [, $aliceHeaders, $alice] = $this->exchange($this->context('GET', '/session?set=alice'));
        [, $bobHeaders, $bob] = $this->exchange($this->context('GET', '/session?set=bob'));

        self::assertNotSame($alice['id'], $bob['id']);
        self::assertStringStartsWith('PHPSESSID=' . $alice['id'] . '; Path=/', $aliceHeaders['Set-Cookie'][0]);
        self::assertStringContainsString('HttpOnly', $aliceHeaders['Set-Cookie'][0]);
        self::assertStringStartsWith('PHPSESSID=' . $bob['id'], $bobHeaders['Set-Cookie'][0]);

        [, $headers, $stranger] = $this->exchange($this->context('GET', '/session'));
        self::assertNull($stranger['value'], 'a new client does not get the previous session');
        self::assertNotContains($stranger['id'], [$alice['id'], $bob['id']]);
        self::assertArrayHasKey('Set-Cookie', $headers);

        [, $headers, $again] = $this->exchange($this->context('GET', '/session', ['PHPSESSID' => $alice['id']]));
        self::assertSame(['id' => $alice['id'], 'value' => 'alice'], $again);
        self::assertArrayNotHasKey('Set-Cookie', $headers, 'a known session id is not sent again');

        [, , $again] = $this->exchange($this->context('GET', '/session', ['PHPSESSID' => $bob['id']]));
        self::assertSame(['id' => $bob['id'], 'value' => 'bob'], $again);

        [, , $echo] = $this->exchange($this->context('GET', '/echo'));
        self::assertFalse($echo['session_active'], 'the session is closed after each request');
    }

    public function testPrintingHeaderSetcookieWarningsAndStreamingLeaveStdoutClean(): void
    {
        [$status, , $data] = $this->exchange($this->context('GET', '/header-cookie'));
        self::assertSame(200, $status, 'http_response_code() from the app does not override its Response');
        self::assertFalse($data['headers_sent'], 'nothing reached the SAPI, so header()/setcookie() cannot fail later');

        [$status, $headers, $body] = $this->exchangeRaw($this->context('GET', '/print'));
        self::assertSame([200, 'printed and body', ['16']], [$status, $body, $headers['Content-Length']]);

        [$status, , $body] = $this->exchangeRaw($this->context('GET', '/warning'));
        self::assertSame([200, 'warned NULL'], [$status, $body]);

        [$status, $headers, $body] = $this->exchangeRaw($this->context('GET', '/stream'));
        self::assertSame("data: one\n\ndata: two\n\ndata: three\n\n", $body);
        self::assertSame(['text/event-stream'], $headers['Content-Type']);

        [$status, , $body] = $this->exchangeRaw($this->context('GET', '/boom'));
        self::assertSame([500, '{"error":"Internal Server Error"}'], [$status, $body]);

        [$status] = $this->exchange($this->context('GET', '/echo'));
        self::assertSame(200, $status);
        self::assertTrue($this->worker->isRunning());
        $stderr = $this->worker->stderr();
        self::assertStringContainsString('a warning from the fake app', $stderr);
        self::assertStringContainsString('GET /boom failed with a 500: RuntimeException: boom from the fake app', $stderr);
    }

    public function testStaticStateIsResetBetweenRequests(): void
    {
        foreach (['x', 'y', 'z'] as $value) {
            [, , $data] = $this->exchange($this->context('GET', '/static?v=' . $value));
            self::assertSame([$value], $data['cache']);
        }
    }

    public function testRecyclesAfterMaxRequestsFromTheEnvironmentAndExitsOnStop(): void
    {
        $this->worker->kill();
        $this->worker = $this->start(['PIVOT_MAX_REQUESTS' => '3']);

        for ($i = 1; $i <= 3; ++$i) {
            [$status] = $this->exchange($this->context('GET', '/echo?n=' . $i));
            self::assertSame(200, $status);
        }
        // Idle with its decision taken: the worker must not exit on its own.
        usleep(200_000);
        self::assertTrue($this->worker->isRunning(), 'a worker never exits while idle in the pool');

        [$context, $body] = $this->worker->roadRunner->exchange($this->context('GET', '/echo?n=4'));
        self::assertSame(['{"stop":true}', ''], [$context, $body]);

        $this->worker->roadRunner->sendStopCommand();
        self::assertSame(0, $this->worker->waitForExit());
        self::assertStringContainsString('Replacing this worker: it served 3 requests (max_requests 3)', $this->worker->stderr());
        self::assertStringContainsString('fake-app-worker: stopping', $this->worker->stderr());
        self::assertSame('', $this->worker->remainingStdout());
    }

    private function start(array $env = []): WorkerProcess
    {
        $worker = new WorkerProcess(self::SCRIPT, $env + ['FAKE_APP_SESSION_DIR' => $this->sessionDir]);
        $worker->handshake();

        return $worker;
    }

    /** @return array{0: string, 1: string} context and body for one of the bleed-suite requests */
    private function requestFor(string $kind, string $marker, int $i): array
    {
        $headers = ['X-Request-Id' => [$marker], 'X-Only-' . $i => ['yes'], 'Cookie' => ["session=sess-$marker"]];
        $uploads = null;
        $parsed = false;
        $method = 'POST';
        switch ($kind) {
            case 'json':
                $headers['Content-Type'] = ['application/json'];
                $body = '{"marker":"' . $marker . '"}';
                $headers['Content-Length'] = [(string) strlen($body)];
                break;
            case 'form':
                $headers['Content-Type'] = ['application/x-www-form-urlencoded'];
                $body = (string) json_encode(['marker' => $marker, 'list' => ['a', (string) $i]]);
                $parsed = true;
                break;
            case 'multipart':
                $headers['Content-Type'] = ['multipart/form-data; boundary=x'];
                $body = (string) json_encode(['marker' => $marker]);
                $parsed = true;
                $file = (string) tempnam(sys_get_temp_dir(), 'upload');
                file_put_contents($file, "contents of $marker");
                $this->tempFiles[] = $file;
                $uploads = ['doc' => [
                    'name' => "upload-$marker.txt",
                    'mime' => 'text/plain',
                    'size' => 12,
                    'error' => 0,
                    'tmpName' => $file,
                ]];
                break;
            default:
                $method = 'GET';
                $body = '';
        }

        $cookies = ['session' => "sess-$marker"];

        return [$this->context($method, "/echo?id=$marker&n=$i", $cookies, $headers, parsed: $parsed, uploads: $uploads, remoteAddr: "10.0.0.$i"), $body];
    }

    /** FakeRoadRunner::requestContext() with the cookies third: most requests here set only cookies. */
    private function context(string $method, string $target, array $cookies = [], array $headers = [], mixed ...$more): string
    {
        return FakeRoadRunner::requestContext($method, $target, $headers, $cookies, ...$more);
    }

    /** @return array{0: int, 1: array<string, list<string>>, 2: array} */
    private function exchange(string $context, string $body = ''): array
    {
        [$status, $headers, $responseBody] = $this->exchangeRaw($context, $body);

        return [$status, $headers, json_decode($responseBody, true, 512, JSON_THROW_ON_ERROR)];
    }

    /** @return array{0: int, 1: array<string, list<string>>, 2: string} */
    private function exchangeRaw(string $context, string $body = ''): array
    {
        [$responseContext, $responseBody] = $this->worker->roadRunner->exchange($context, $body);
        $decoded = json_decode($responseContext, true, 512, JSON_THROW_ON_ERROR);

        return [$decoded['status'], $decoded['headers'], $responseBody];
    }
}
