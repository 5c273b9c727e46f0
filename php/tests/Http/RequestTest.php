<?php

declare(strict_types=1);

namespace PivotPHP\Runtime\RoadRunner\Tests\Http;

use PHPUnit\Framework\TestCase;
use PivotPHP\Runtime\RoadRunner\Exception\InvalidRequestException;
use PivotPHP\Runtime\RoadRunner\Http\Request;

/**
 * Request contexts as RoadRunner's http plugin writes them (wire-protocol.md §3.2–3.4).
 */
final class RequestTest extends TestCase
{
    /** The real §3.2 output, byte for byte (goccy escapes & as \u0026). */
    private const GET_CONTEXT = '{"remoteAddr":"127.0.0.1","protocol":"HTTP/1.1","method":"GET",'
        . '"uri":"http://127.0.0.1:40193/path/x?foo=bar\u0026arr[]=1\u0026arr[]=2\u0026n[a][b]=c",'
        . '"headers":{"User-Agent":["Go-http-client/1.1"],"Cookie":["sess=abc%20def; other=1"],'
        . '"X-Multi":["one","two"],"Accept-Encoding":["gzip"]},"cookies":{"sess":"abc def","other":"1"},'
        . '"rawQuery":"foo=bar\u0026arr[]=1\u0026arr[]=2\u0026n[a][b]=c","parsed":false,"uploads":null,"attributes":{}}';

    public function testRealGetContext(): void
    {
        $request = Request::fromContext(self::GET_CONTEXT);

        self::assertSame('127.0.0.1', $request->remoteAddr);
        self::assertSame('HTTP/1.1', $request->protocol);
        self::assertSame('GET', $request->method);
        self::assertSame('http://127.0.0.1:40193/path/x?foo=bar&arr[]=1&arr[]=2&n[a][b]=c', $request->uri);
        self::assertSame('/path/x', $request->path());
        self::assertSame('127.0.0.1:40193', $request->host());
        self::assertSame([
            'User-Agent' => ['Go-http-client/1.1'],
            'Cookie' => ['sess=abc%20def; other=1'],
            'X-Multi' => ['one', 'two'],
            'Accept-Encoding' => ['gzip'],
        ], $request->headers);
        self::assertSame(['sess' => 'abc def', 'other' => '1'], $request->cookies);
        self::assertSame('abc def', $request->cookie('sess'));
        self::assertNull($request->cookie('missing'));
        self::assertSame('foo=bar&arr[]=1&arr[]=2&n[a][b]=c', $request->rawQuery);
        self::assertSame(['foo' => 'bar', 'arr' => ['1', '2'], 'n' => ['a' => ['b' => 'c']]], $request->query);
        self::assertFalse($request->parsed);
        self::assertNull($request->parsedBody);
        self::assertNull($request->uploads);
        self::assertSame([], $request->attributes);
        self::assertSame('', $request->body);
    }

    public function testHeaderLookupIsCaseInsensitive(): void
    {
        $request = Request::fromContext(self::GET_CONTEXT);

        self::assertSame('one, two', $request->header('X-Multi'));
        self::assertSame('one, two', $request->header('x-multi'));
        self::assertSame(['one', 'two'], $request->headerValues('X-MULTI'));
        self::assertSame('gzip', $request->header('accept-encoding'));
        self::assertTrue($request->hasHeader('user-agent'));
        self::assertNull($request->header('Host'), 'Go moves Host out of the headers');
        self::assertSame([], $request->headerValues('X-Missing'));
        self::assertFalse($request->hasHeader('X-Missing'));
    }

    public function testNonStringAndEmptyHeaderNamesAreDropped(): void
    {
        $request = Request::fromContext(
            '{"method":"GET","uri":"http://h/","headers":{"123":["numeric"],"":["empty"],"X-Ok":["yes"],"0":["zero"]}}',
        );

        self::assertSame(['X-Ok' => ['yes']], $request->headers);
    }

    public function testNestedQuery(): void
    {
        $request = Request::fromContext('{"method":"GET","uri":"http://h/q?a[b]=1\u0026c[]=2","rawQuery":"a[b]=1\u0026c[]=2"}');

        self::assertSame(['a' => ['b' => '1'], 'c' => ['2']], $request->query);
    }

    public function testUrlencodedFormIsParsed(): void
    {
        // §3.3: a=1&b[]=x&b[]=y&c[d]=e&a=2&sp=hello+world%21 as RoadRunner sends it.
        $request = Request::fromContext(
            '{"remoteAddr":"127.0.0.1","protocol":"HTTP/1.1","method":"POST","uri":"http://127.0.0.1:8080/form",'
            . '"headers":{"Content-Type":["application/x-www-form-urlencoded"]},"cookies":{},"rawQuery":"",'
            . '"parsed":true,"uploads":null,"attributes":{}}',
            '{"b":["x","y"],"c":{"d":"e"},"sp":"hello world!","a":"2"}',
        );

        self::assertTrue($request->parsed);
        self::assertSame(['b' => ['x', 'y'], 'c' => ['d' => 'e'], 'sp' => 'hello world!', 'a' => '2'], $request->parsedBody);
        self::assertSame('{"b":["x","y"],"c":{"d":"e"},"sp":"hello world!","a":"2"}', $request->body, 'the raw body stays');
        self::assertSame([], $request->query);
        self::assertSame([], $request->cookies);
    }

    public function testEmptyParsedFormIsAnEmptyArray(): void
    {
        $request = Request::fromContext('{"method":"POST","uri":"http://h/","parsed":true}', '{}');

        self::assertSame([], $request->parsedBody);
    }

    public function testMultipartFieldsAndUploadTree(): void
    {
        $uploads = [
            'bad' => ['name' => 'evil.php', 'mime' => 'application/octet-stream', 'size' => 0, 'error' => 8, 'tmpName' => ''],
            'file' => ['name' => 'hello.txt', 'mime' => 'text/plain', 'size' => 10, 'error' => 0, 'tmpName' => '/tmp/upload664701676'],
            'files' => [
                ['name' => 'a.txt', 'mime' => 'text/plain', 'size' => 1, 'error' => 0, 'tmpName' => '/tmp/upload1'],
                ['name' => 'b.txt', 'mime' => 'text/plain', 'size' => 2, 'error' => 0, 'tmpName' => '/tmp/upload2'],
            ],
            'nested' => ['one' => ['two' => ['name' => 'c.txt', 'mime' => 'text/plain', 'size' => 3, 'error' => 0, 'tmpName' => '/tmp/upload3']]],
        ];
        $context = '{"remoteAddr":"::1","protocol":"HTTP/2.0","method":"POST","uri":"https://example.test/upload",'
            . '"headers":{"Content-Type":["multipart/form-data; boundary=x"]},"cookies":{},"rawQuery":"","parsed":true,'
            . '"uploads":' . json_encode($uploads) . ',"attributes":{"ipAddress":"10.0.0.1"}}';

        $request = Request::fromContext($context, '{"name":"value","arr":{"k":"v"}}');

        self::assertSame(['name' => 'value', 'arr' => ['k' => 'v']], $request->parsedBody);
        self::assertSame($uploads, $request->uploads);
        self::assertSame(['ipAddress' => '10.0.0.1'], $request->attributes);
        self::assertSame('::1', $request->remoteAddr);
        self::assertSame('HTTP/2.0', $request->protocol);
        self::assertSame('example.test', $request->host());
    }

    public function testMultipartWithoutFilesHasAnEmptyUploadTree(): void
    {
        $request = Request::fromContext('{"method":"POST","uri":"http://h/","parsed":true,"uploads":{}}', '{}');

        self::assertSame([], $request->uploads);
    }

    public function testRawBodyIsKeptAsIs(): void
    {
        $body = "{\"json\":true}\0\xff binary";
        $request = Request::fromContext(
            '{"method":"POST","uri":"http://h/echo","headers":{"Content-Type":["application/json"]},"parsed":false,"uploads":null}',
            $body,
        );

        self::assertSame($body, $request->body);
        self::assertFalse($request->parsed);
        self::assertNull($request->parsedBody);
    }

    /** @return array<string, array{0: string, 1: string, 2: string}> */
    public static function uris(): array
    {
        return [
            'plain' => ['http://127.0.0.1:8080/a/b', '/a/b', '127.0.0.1:8080'],
            'root' => ['http://127.0.0.1:8080/', '/', '127.0.0.1:8080'],
            'no path' => ['http://example.test', '/', 'example.test'],
            'query without path' => ['http://example.test?next=/x', '/', 'example.test'],
            'slash in query' => ['http://h/p?next=/x/y', '/p', 'h'],
            'fragment' => ['http://h/p#frag', '/p', 'h'],
            'encoded path' => ['http://h/a%20b/c', '/a%20b/c', 'h'],
            'userinfo' => ['http://user:pw@h:81/p', '/p', 'h:81'],
            'ipv6' => ['http://[::1]:8080/v6', '/v6', '[::1]:8080'],
            'https' => ['https://secure.test/s', '/s', 'secure.test'],
        ];
    }

    /** @dataProvider uris */
    public function testPathAndHostFromTheUri(string $uri, string $path, string $host): void
    {
        $request = new Request('127.0.0.1', 'HTTP/1.1', 'GET', $uri);

        self::assertSame($path, $request->path());
        self::assertSame($host, $request->host());
    }

    public function testInvalidContextJson(): void
    {
        $this->expectException(InvalidRequestException::class);
        $this->expectExceptionMessage('Invalid request context JSON: Syntax error');
        Request::fromContext('{"method":');
    }

    public function testContextMustBeAnObject(): void
    {
        $this->expectException(InvalidRequestException::class);
        $this->expectExceptionMessage('must be a JSON object');
        Request::fromContext('"GET"');
    }

    public function testParsedBodyMustBeJson(): void
    {
        $this->expectException(InvalidRequestException::class);
        $this->expectExceptionMessage('Invalid parsed form body JSON');
        Request::fromContext('{"method":"POST","uri":"http://h/","parsed":true}', 'a=1');
    }

    public function testMissingKeysGetSafeDefaults(): void
    {
        $request = Request::fromContext('{}');

        self::assertSame(['', 'HTTP/1.1', 'GET', ''], [$request->remoteAddr, $request->protocol, $request->method, $request->uri]);
        self::assertSame([[], [], [], null, []], [$request->headers, $request->cookies, $request->query, $request->uploads, $request->attributes]);
        self::assertSame('/', $request->path());
    }
}
