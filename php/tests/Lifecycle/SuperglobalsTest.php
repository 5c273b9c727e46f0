<?php

declare(strict_types=1);

namespace PivotPHP\Runtime\RoadRunner\Tests\Lifecycle;

use PHPUnit\Framework\TestCase;
use PivotPHP\Runtime\RoadRunner\Http\Request;
use PivotPHP\Runtime\RoadRunner\Lifecycle\Superglobals;

/**
 * @backupGlobals enabled
 */
final class SuperglobalsTest extends TestCase
{
    public function testFillsEveryServerKeyAndHeader(): void
    {
        $server = Superglobals::serverParams(new Request(
            '10.0.0.7',
            'HTTP/2.0',
            'POST',
            'https://api.example.test:8443/users/7?x=1&y[]=2',
            [
                'Content-Type' => ['application/json'],
                'Content-Length' => ['13'],
                'X-Multi' => ['one', 'two'],
                'Cookie' => ['a=1', 'b=2'],
                'User-Agent' => ['phpunit'],
            ],
            ['a' => '1', 'b' => '2'],
            'x=1&y[]=2',
        ), ['SCRIPT_NAME' => 'worker.php']);

        self::assertSame('worker.php', $server['SCRIPT_NAME']);
        self::assertSame('POST', $server['REQUEST_METHOD']);
        self::assertSame('/users/7?x=1&y[]=2', $server['REQUEST_URI']);
        self::assertSame('x=1&y[]=2', $server['QUERY_STRING']);
        self::assertSame('HTTP/2.0', $server['SERVER_PROTOCOL']);
        self::assertSame('api.example.test:8443', $server['HTTP_HOST']);
        self::assertSame('api.example.test', $server['SERVER_NAME']);
        self::assertSame('8443', $server['SERVER_PORT']);
        self::assertSame('https', $server['REQUEST_SCHEME']);
        self::assertSame('on', $server['HTTPS']);
        self::assertSame('10.0.0.7', $server['REMOTE_ADDR']);
        self::assertSame('application/json', $server['CONTENT_TYPE']);
        self::assertSame('application/json', $server['HTTP_CONTENT_TYPE']);
        self::assertSame('13', $server['CONTENT_LENGTH']);
        self::assertSame('13', $server['HTTP_CONTENT_LENGTH']);
        self::assertSame('one, two', $server['HTTP_X_MULTI']);
        self::assertSame('a=1; b=2', $server['HTTP_COOKIE']);
        self::assertSame('phpunit', $server['HTTP_USER_AGENT']);
        self::assertIsInt($server['REQUEST_TIME']);
        self::assertIsFloat($server['REQUEST_TIME_FLOAT']);
    }

    public function testPlainHttpDefaultsAndForwardedAddress(): void
    {
        $server = Superglobals::serverParams(new Request(
            '127.0.0.1',
            'HTTP/1.1',
            'GET',
            'http://[::1]/',
            attributes: ['ipAddress' => '203.0.113.9'],
        ), ['HTTPS' => 'on']);

        self::assertSame('/', $server['REQUEST_URI']);
        self::assertSame('', $server['QUERY_STRING']);
        self::assertSame('[::1]', $server['HTTP_HOST']);
        self::assertSame('[::1]', $server['SERVER_NAME']);
        self::assertSame('80', $server['SERVER_PORT']);
        self::assertSame('http', $server['REQUEST_SCHEME']);
        self::assertSame('203.0.113.9', $server['REMOTE_ADDR'], 'the ipAddress attribute wins, like roadrunner-php');
        self::assertArrayNotHasKey('CONTENT_TYPE', $server);
    }

    public function testRequestIdFromPivotsHeader(): void
    {
        $server = Superglobals::serverParams(new Request(
            '127.0.0.1',
            'HTTP/1.1',
            'GET',
            'http://h/',
            headers: ['X-Request-Id' => ['0f8fad5b-d9cb-469f-a165-70867728950e']],
        ));

        self::assertSame('0f8fad5b-d9cb-469f-a165-70867728950e', $server['REQUEST_ID']);
        self::assertSame('0f8fad5b-d9cb-469f-a165-70867728950e', $server['HTTP_X_REQUEST_ID']);

        $without = Superglobals::serverParams(new Request('127.0.0.1', 'HTTP/1.1', 'GET', 'http://h/'), ['REQUEST_ID' => 'stale']);
        self::assertSame('stale', $without['REQUEST_ID'], 'serverParams keeps its base; apply() drops request keys from it');
    }

    public function testRequestIdDoesNotOutliveItsRequest(): void
    {
        $globals = new Superglobals();
        $globals->apply(new Request('127.0.0.1', 'HTTP/1.1', 'GET', 'http://h/', headers: ['X-Request-Id' => ['abc']]));
        self::assertSame('abc', $_SERVER['REQUEST_ID']);
        $globals->restore();
        $globals->apply(new Request('127.0.0.1', 'HTTP/1.1', 'GET', 'http://h/'));
        self::assertArrayNotHasKey('REQUEST_ID', $_SERVER);
        $globals->restore();
    }

    public function testApplyAndRestore(): void
    {
        $_SERVER['HTTP_PROXY'] = 'http://evil.test'; // from the environment: httpoxy
        $_SERVER['WORKER_OWN'] = 'kept';
        $_SERVER['REQUEST_METHOD'] = 'CLI-LEFTOVER';
        $_GET = ['base' => 'get'];
        $_POST = ['base' => 'post'];
        $_COOKIE = ['base' => 'cookie'];
        $_FILES = [];
        $_REQUEST = ['base' => 'request'];
        $originalServer = $_SERVER;
        $globals = new Superglobals();

        $globals->apply(new Request(
            '127.0.0.1',
            'HTTP/1.1',
            'POST',
            'http://localhost:8080/form?q=search&same=get',
            ['Content-Type' => ['application/x-www-form-urlencoded']],
            ['sid' => 'abc'],
            'q=search&same=get',
            ['q' => 'search', 'same' => 'get'],
            '{"name":"Ada","same":"post"}',
            true,
            ['name' => 'Ada', 'same' => 'post'],
            ['doc' => ['name' => 'a.txt', 'mime' => 'text/plain', 'size' => 3, 'error' => 0, 'tmpName' => '/tmp/x']],
        ));

        self::assertTrue($globals->isApplied());
        self::assertArrayNotHasKey('HTTP_PROXY', $_SERVER);
        self::assertSame('kept', $_SERVER['WORKER_OWN']);
        self::assertSame('POST', $_SERVER['REQUEST_METHOD']);
        self::assertSame(['q' => 'search', 'same' => 'get'], $_GET);
        self::assertSame(['name' => 'Ada', 'same' => 'post'], $_POST);
        self::assertSame(['q' => 'search', 'same' => 'post', 'name' => 'Ada'], $_REQUEST);
        self::assertSame(['sid' => 'abc'], $_COOKIE);
        self::assertSame('/tmp/x', $_FILES['doc']['tmp_name']);

        $globals->restore();

        self::assertFalse($globals->isApplied());
        self::assertSame($originalServer, $_SERVER);
        self::assertSame(['base' => 'get'], $_GET);
        self::assertSame(['base' => 'post'], $_POST);
        self::assertSame(['base' => 'cookie'], $_COOKIE);
        self::assertSame([], $_FILES);
        self::assertSame(['base' => 'request'], $_REQUEST);
    }

    public function testJsonBodiesLeavePostEmpty(): void
    {
        $globals = new Superglobals();
        $globals->apply(new Request('127.0.0.1', 'HTTP/1.1', 'POST', 'http://h/x', body: '{"a":1}'));

        self::assertSame([], $_POST);
        self::assertSame([], $_FILES);
        $globals->restore();
    }
}
