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

    /**
     * The fast path (one regular expression, lazy headers/cookies/query) must give exactly
     * what json_decode() gives: random contexts in RoadRunner's shape, with strings that do
     * and do not qualify for it, against the json_decode() reading of the same context.
     */
    public function testFastPathAgreesWithJsonDecode(): void
    {
        mt_srand(6);
        $fast = 0;
        for ($i = 0; $i < 3000; $i++) {
            $context = self::randomContext();
            $body = mt_rand(0, 3) === 0 ? 'raw body' : '';
            $request = Request::fromContext($context, $body);
            $fast += (int) self::tookFastPath($context);

            self::assertSame(self::reference($context, $body), self::properties($request), $context);
            self::assertSame(self::properties($request), self::properties($request), 'stable after the first access');
        }
        self::assertGreaterThan(300, $fast, 'the fast path was exercised');
        self::assertLessThan(2700, $fast, 'the json_decode path was exercised');
    }

    public function testUsualContextsTakeTheFastPath(): void
    {
        $hello = '{"remoteAddr":"127.0.0.1","protocol":"HTTP/1.1","method":"GET","uri":"http://127.0.0.1:18181/hello",'
            . '"headers":{},"cookies":{},"rawQuery":"","parsed":false,"uploads":null,"attributes":{}}';
        self::assertTrue(self::tookFastPath($hello));
        self::assertTrue(self::tookFastPath(self::GET_CONTEXT));
        self::assertFalse(self::tookFastPath($hello . "\n"));

        // The same object as the constructor builds: every property set, nothing else.
        self::assertEquals(
            new Request('127.0.0.1', 'HTTP/1.1', 'GET', 'http://127.0.0.1:18181/hello', body: 'b'),
            Request::fromContext($hello, 'b'),
        );
        $request = Request::fromContext(self::GET_CONTEXT);
        self::assertEquals(
            new Request(
                $request->remoteAddr,
                $request->protocol,
                $request->method,
                $request->uri,
                $request->headers,
                $request->cookies,
                $request->rawQuery,
                $request->query,
            ),
            $request,
        );
        self::assertSame(serialize(Request::fromContext($hello)), serialize(Request::fromContext($hello . ' ')), 'both paths');
    }

    public function testFastPathRequestsAreReadonly(): void
    {
        $request = Request::fromContext(self::GET_CONTEXT);

        $this->expectException(\Error::class);
        $this->expectExceptionMessage('Cannot modify readonly property');
        $request->headers = [];
    }

    /** Whether fromContext() reads this context with its regular expression. */
    private static function tookFastPath(string $context): bool
    {
        $pattern = (new \ReflectionClassConstant(Request::class, 'PLAIN_CONTEXT'))->getValue();

        return preg_match($pattern, $context) === 1;
    }

    /** @return array<string, mixed> every public property */
    private static function properties(Request $request): array
    {
        $result = [];
        foreach ((new \ReflectionClass(Request::class))->getProperties(\ReflectionProperty::IS_PUBLIC) as $property) {
            $result[$property->getName()] = $request->{$property->getName()};
        }

        return $result;
    }

    /** The request context read the json_decode() way (the code before the fast path). */
    private static function reference(string $context, string $body): array
    {
        $data = json_decode($context, true, 512, JSON_THROW_ON_ERROR);
        $headers = [];
        foreach (is_array($data['headers'] ?? null) ? $data['headers'] : [] as $name => $values) {
            if (is_string($name) && $name !== '') {
                $headers[$name] = is_array($values) ? $values : [(string) $values];
            }
        }
        $rawQuery = is_string($data['rawQuery'] ?? null) ? $data['rawQuery'] : '';
        $query = [];
        if ($rawQuery !== '') {
            parse_str($rawQuery, $query);
        }
        $parsed = ($data['parsed'] ?? false) === true;

        return [
            'remoteAddr' => is_string($data['remoteAddr'] ?? null) ? $data['remoteAddr'] : '',
            'protocol' => is_string($data['protocol'] ?? null) ? $data['protocol'] : 'HTTP/1.1',
            'method' => is_string($data['method'] ?? null) ? $data['method'] : 'GET',
            'uri' => is_string($data['uri'] ?? null) ? $data['uri'] : '',
            'headers' => $headers,
            'cookies' => is_array($data['cookies'] ?? null) ? $data['cookies'] : [],
            'rawQuery' => $rawQuery,
            'query' => $query,
            'body' => $body,
            'parsed' => $parsed,
            'parsedBody' => $parsed ? ($body === '' ? [] : json_decode($body, true)) : null,
            'uploads' => is_array($data['uploads'] ?? null) ? $data['uploads'] : null,
            'attributes' => is_array($data['attributes'] ?? null) ? $data['attributes'] : [],
        ];
    }

    /** A context as RoadRunner writes it, with random strings; sometimes a little off. */
    private static function randomContext(): string
    {
        $headers = [];
        for ($n = mt_rand(0, 4); $n > 0; $n--) {
            $values = [];
            for ($v = mt_rand(0, 3); $v > 0; $v--) {
                $values[] = self::randomString();
            }
            $headers[self::randomString()] = $values;
        }
        $cookies = [];
        for ($n = mt_rand(0, 2); $n > 0; $n--) {
            $cookies[self::randomString()] = self::randomString();
        }
        $rawQuery = mt_rand(0, 1) === 0 ? '' : self::randomString() . '=' . self::randomString() . '&a[]=1&a[]=2';
        $object = static fn (array $map): string => $map === [] ? '{}' : self::json($map);

        $context = '{"remoteAddr":' . self::json(mt_rand(0, 9) === 0 ? '::1' : '127.0.0.1')
            . ',"protocol":' . self::json(['HTTP/1.1', 'HTTP/2.0', 'HTTP/1.0'][mt_rand(0, 2)])
            . ',"method":' . self::json(['GET', 'POST', 'HEAD', 'DELETE'][mt_rand(0, 3)])
            . ',"uri":' . self::json('http://127.0.0.1:8080/' . self::randomString() . ($rawQuery === '' ? '' : '?' . $rawQuery))
            . ',"headers":' . $object($headers)
            . ',"cookies":' . $object($cookies)
            . ',"rawQuery":' . self::json($rawQuery)
            . ',"parsed":false,"uploads":null,"attributes":{}}';

        return match (mt_rand(0, 12)) {
            0 => str_replace('"attributes":{}', '"attributes":{"ipAddress":"10.0.0.1"}', $context),
            1 => str_replace('"uploads":null', '"uploads":{}', $context),
            2 => str_replace(',"', ', "', $context), // whitespace
            3 => str_replace('"headers":', '"headers":{"123":["numeric"],"":["empty"]},"x":', $context),
            4 => str_replace('"protocol":', '"protocol":null,"p":', $context),
            default => $context,
        };
    }

    private static function randomString(): string
    {
        static $pieces = ['a', 'Z', '0', '-', '_', '.', '/', ' ', '%20', '&', '<', '>', '=', "'", '"', '\\', "\t", "\x7f", 'é', '€', '[', ']', '{', '}', ':', ','];
        $string = '';
        for ($n = mt_rand(0, 8); $n > 0; $n--) {
            $string .= mt_rand(0, 3) === 0 ? $pieces[mt_rand(0, count($pieces) - 1)] : chr(mt_rand(0x61, 0x7a));
        }

        return $string;
    }

    /** JSON the way goccy writes it: HTML escaped in lowercase hex, slashes and Unicode as is. */
    private static function json(mixed $value): string
    {
        $json = json_encode($value, JSON_UNESCAPED_SLASHES | JSON_UNESCAPED_UNICODE | JSON_HEX_AMP | JSON_HEX_TAG | JSON_THROW_ON_ERROR);

        return mt_rand(0, 4) === 0 ? $json : str_replace(['\u003C', '\u003E'], ['\u003c', '\u003e'], $json);
    }
}
