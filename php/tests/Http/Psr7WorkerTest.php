<?php

declare(strict_types=1);

namespace PivotPHP\Runtime\RoadRunner\Tests\Http;

use Nyholm\Psr7\Factory\Psr17Factory;
use PHPUnit\Framework\TestCase;
use PivotPHP\Runtime\RoadRunner\Exception\InvalidResponseException;
use PivotPHP\Runtime\RoadRunner\Goridge\Frame;
use PivotPHP\Runtime\RoadRunner\Http\HttpWorker;
use PivotPHP\Runtime\RoadRunner\Http\Psr7Worker;
use PivotPHP\Runtime\RoadRunner\Relay\StreamRelay;
use PivotPHP\Runtime\RoadRunner\Tests\Support\FakeRoadRunner;
use PivotPHP\Runtime\RoadRunner\Worker;
use Psr\Http\Message\UploadedFileInterface;

/**
 * Psr7Worker with Debian's nyholm/psr7 (php-nyholm-psr7) as the PSR-17 implementation.
 */
final class Psr7WorkerTest extends TestCase
{
    private Psr7Worker $psr7;
    private FakeRoadRunner $roadRunner;
    private Psr17Factory $factory;

    /** @var list<string> */
    private array $tempFiles = [];

    public static function setUpBeforeClass(): void
    {
        $autoload = stream_resolve_include_path('Nyholm/Psr7/autoload.php');
        if ($autoload === false) {
            fwrite(STDERR, "\n*** Psr7WorkerTest SKIPPED: nyholm/psr7 not found (apt-get install php-nyholm-psr7) ***\n");

            return;
        }
        require_once $autoload;
    }

    protected function setUp(): void
    {
        if (!class_exists(Psr17Factory::class)) {
            self::markTestSkipped('nyholm/psr7 is not installed (Debian package php-nyholm-psr7): Psr7Worker is untested');
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

    protected function tearDown(): void
    {
        array_map('unlink', $this->tempFiles);
    }

    public function testMultipartRequestWithEverything(): void
    {
        $hello = $this->tempFile('hello world');
        $first = $this->tempFile('A');
        $second = $this->tempFile('BB');
        $uploads = [
            'doc' => ['name' => 'hello.txt', 'mime' => 'text/plain', 'size' => 11, 'error' => 0, 'tmpName' => $hello],
            'many' => [
                ['name' => 'a.txt', 'mime' => 'text/plain', 'size' => 1, 'error' => 0, 'tmpName' => $first],
                ['name' => 'b.bin', 'mime' => 'application/octet-stream', 'size' => 2, 'error' => 0, 'tmpName' => $second],
            ],
            'nested' => ['one' => ['name' => 'evil.php', 'mime' => 'application/octet-stream', 'size' => 0, 'error' => 8, 'tmpName' => '']],
        ];
        $context = '{"remoteAddr":"127.0.0.1","protocol":"HTTP/2.0","method":"POST",'
            . '"uri":"https://example.test:8443/upload/x?a[b]=1\u0026c[]=2",'
            . '"headers":{"Content-Type":["multipart/form-data; boundary=xyz"],"Content-Length":["512"],'
            . '"X-Multi":["one","two"],"User-Agent":["test-agent"]},'
            . '"cookies":{"sess":"abc def"},"rawQuery":"a[b]=1\u0026c[]=2","parsed":true,'
            . '"uploads":' . json_encode($uploads) . ',"attributes":{"ipAddress":"10.1.2.3","route":"upload"}}';
        $this->roadRunner->sendRequest($context, '{"title":"big","arr":{"k":"v"}}');

        $request = $this->psr7->waitRequest();
        self::assertNotNull($request);

        self::assertSame('POST', $request->getMethod());
        $uri = $request->getUri(); // Nyholm percent-encodes the brackets of the query
        self::assertSame(['https', 'example.test', 8443, '/upload/x'], [$uri->getScheme(), $uri->getHost(), $uri->getPort(), $uri->getPath()]);
        self::assertSame('a%5Bb%5D=1&c%5B%5D=2', $uri->getQuery());
        self::assertSame('2', $request->getProtocolVersion());
        self::assertSame('one, two', $request->getHeaderLine('x-multi'));
        self::assertSame(['one', 'two'], $request->getHeader('X-Multi'));
        self::assertSame('example.test:8443', $request->getHeaderLine('Host'), 'Host comes from the URI');
        self::assertSame(['sess' => 'abc def'], $request->getCookieParams());
        self::assertSame(['a' => ['b' => '1'], 'c' => ['2']], $request->getQueryParams());
        self::assertSame(['title' => 'big', 'arr' => ['k' => 'v']], $request->getParsedBody());
        self::assertSame('{"title":"big","arr":{"k":"v"}}', (string) $request->getBody());
        self::assertSame('10.1.2.3', $request->getAttribute('ipAddress'));
        self::assertSame('upload', $request->getAttribute('route'));

        $server = $request->getServerParams();
        self::assertSame('/upload/x?a[b]=1&c[]=2', $server['REQUEST_URI']);
        self::assertSame('a[b]=1&c[]=2', $server['QUERY_STRING']);
        self::assertSame('POST', $server['REQUEST_METHOD']);
        self::assertSame('HTTP/2.0', $server['SERVER_PROTOCOL']);
        self::assertSame('10.1.2.3', $server['REMOTE_ADDR'], 'the ipAddress attribute wins');
        self::assertSame('example.test:8443', $server['HTTP_HOST']);
        self::assertSame('on', $server['HTTPS']);
        self::assertSame('https', $server['REQUEST_SCHEME']);
        self::assertSame('one, two', $server['HTTP_X_MULTI']);
        self::assertSame('test-agent', $server['HTTP_USER_AGENT']);
        self::assertSame('multipart/form-data; boundary=xyz', $server['CONTENT_TYPE']);
        self::assertSame('512', $server['CONTENT_LENGTH']);
        self::assertArrayNotHasKey('HTTP_CONTENT_TYPE', $server);
        self::assertIsInt($server['REQUEST_TIME']);
        self::assertEqualsWithDelta(microtime(true), $server['REQUEST_TIME_FLOAT'], 5.0);
        self::assertSame($_SERVER['SCRIPT_NAME'] ?? null, $server['SCRIPT_NAME'] ?? null, 'built on the process $_SERVER');

        $files = $request->getUploadedFiles();
        self::assertInstanceOf(UploadedFileInterface::class, $files['doc']);
        self::assertSame('hello.txt', $files['doc']->getClientFilename());
        self::assertSame('text/plain', $files['doc']->getClientMediaType());
        self::assertSame(11, $files['doc']->getSize());
        self::assertSame(UPLOAD_ERR_OK, $files['doc']->getError());
        self::assertSame('hello world', (string) $files['doc']->getStream());
        self::assertCount(2, $files['many']);
        self::assertSame('BB', (string) $files['many'][1]->getStream());
        self::assertSame('b.bin', $files['many'][1]->getClientFilename());
        self::assertSame(UPLOAD_ERR_EXTENSION, $files['nested']['one']->getError());
        self::assertSame('evil.php', $files['nested']['one']->getClientFilename());
    }

    public function testPlainGetRequest(): void
    {
        $this->roadRunner->sendRequest(
            '{"remoteAddr":"::1","protocol":"HTTP/1.0","method":"GET","uri":"http://127.0.0.1:8080/","headers":{},'
            . '"cookies":{},"rawQuery":"","parsed":false,"uploads":null,"attributes":{}}',
        );

        $request = $this->psr7->waitRequest();

        self::assertSame('1.0', $request?->getProtocolVersion());
        self::assertNull($request->getParsedBody());
        self::assertSame('', (string) $request->getBody());
        self::assertSame([], $request->getUploadedFiles());
        self::assertSame([], $request->getQueryParams());
        self::assertSame('::1', $request->getServerParams()['REMOTE_ADDR']);
        self::assertSame('/', $request->getServerParams()['REQUEST_URI']);
        self::assertSame('http', $request->getServerParams()['REQUEST_SCHEME']);
        self::assertArrayNotHasKey('HTTPS', $request->getServerParams());
    }

    public function testRequestIdIsAnAttributeAndAServerParam(): void
    {
        $this->roadRunner->sendRequest(
            '{"remoteAddr":"::1","protocol":"HTTP/1.1","method":"GET","uri":"http://127.0.0.1:8080/",'
            . '"headers":{"X-Request-Id":["4bf92f3577b34da6a3ce929d0e0e4736"]},'
            . '"cookies":{},"rawQuery":"","parsed":false,"uploads":null,"attributes":{}}',
        );

        $request = $this->psr7->waitRequest();

        self::assertSame('4bf92f3577b34da6a3ce929d0e0e4736', $request?->getAttribute('request_id'));
        self::assertSame('4bf92f3577b34da6a3ce929d0e0e4736', $request->getServerParams()['REQUEST_ID']);
        self::assertSame('4bf92f3577b34da6a3ce929d0e0e4736', $request->getHeaderLine('X-Request-Id'));
    }

    public function testNoRequestIdWithoutTheHeader(): void
    {
        $this->roadRunner->sendRequest(
            '{"remoteAddr":"::1","protocol":"HTTP/1.1","method":"GET","uri":"http://127.0.0.1:8080/","headers":{},'
            . '"cookies":{},"rawQuery":"","parsed":false,"uploads":null,"attributes":{}}',
        );

        $request = $this->psr7->waitRequest();

        self::assertNull($request?->getAttribute('request_id'));
        self::assertArrayNotHasKey('REQUEST_ID', $request->getServerParams());
    }

    /** @return array<string, array{0: string, 1: string}> */
    public static function protocols(): array
    {
        return [
            'HTTP/1.1' => ['HTTP/1.1', '1.1'],
            'HTTP/2.0' => ['HTTP/2.0', '2'],
            'HTTP/3.0' => ['HTTP/3.0', '3'],
            'unknown' => ['SPDY/9', '1.1'],
        ];
    }

    /** @dataProvider protocols */
    public function testProtocolVersion(string $protocol, string $version): void
    {
        $this->roadRunner->sendRequest('{"method":"GET","uri":"http://h/","protocol":"' . $protocol . '"}');

        self::assertSame($version, $this->psr7->waitRequest()?->getProtocolVersion());
    }

    public function testRawJsonBodyIsNotParsed(): void
    {
        $this->roadRunner->sendRequest(
            '{"method":"POST","uri":"http://h/json","headers":{"Content-Type":["application/json"]},"parsed":false}',
            '{"a":1}',
        );

        $request = $this->psr7->waitRequest();

        self::assertNull($request?->getParsedBody());
        self::assertSame('{"a":1}', (string) $request->getBody());
    }

    public function testStopCommandEndsTheLoop(): void
    {
        $this->roadRunner->sendStopCommand();

        self::assertNull($this->psr7->waitRequest());
    }

    public function testRespondWithHeaders(): void
    {
        $this->receiveAnyRequest();
        $response = $this->factory->createResponse(201)
            ->withHeader('Content-Type', 'application/json')
            ->withAddedHeader('Set-Cookie', 'a=1; Path=/')
            ->withAddedHeader('Set-Cookie', 'b=2; Path=/; HttpOnly')
            ->withBody($this->factory->createStream('{"created":true}'));

        $this->psr7->respond($response);

        [$context, $body] = FakeRoadRunner::split($this->roadRunner->receive());
        self::assertSame(
            ['status' => 201, 'headers' => ['Content-Type' => ['application/json'], 'Set-Cookie' => ['a=1; Path=/', 'b=2; Path=/; HttpOnly']]],
            json_decode($context, true),
        );
        self::assertSame('{"created":true}', $body);
    }

    public function testRespondWithoutHeadersSendsAnObject(): void
    {
        $this->receiveAnyRequest();

        $this->psr7->respond($this->factory->createResponse(204));

        self::assertSame(['{"status":204,"headers":{}}', ''], FakeRoadRunner::split($this->roadRunner->receive()));
    }

    public function testBodyIsSentFromTheStart(): void
    {
        $this->receiveAnyRequest();
        $stream = $this->factory->createStream('full body');
        $stream->read(4); // a handler that already read part of it

        $this->psr7->respond($this->factory->createResponse()->withBody($stream));

        self::assertSame('full body', FakeRoadRunner::split($this->roadRunner->receive())[1]);
    }

    public function testInformationalResponseWithABodyIsRefused(): void
    {
        $this->receiveAnyRequest();

        $this->expectException(InvalidResponseException::class);
        $this->expectExceptionMessage('A 101 response cannot carry a body');
        $this->psr7->respond($this->factory->createResponse(101)->withBody($this->factory->createStream('x')));
    }

    public function testStreamedResponseInChunks(): void
    {
        $this->receiveAnyRequest();
        $response = $this->factory->createResponse(200)
            ->withHeader('X-Stream', '1')
            ->withBody($this->factory->createStream('abcdefgh'));

        $this->psr7->respond($response, 3);

        $frames = [];
        for ($i = 0; $i < 4; $i++) {
            $frame = $this->roadRunner->receive();
            $frames[] = [$frame->streamFlags, ...FakeRoadRunner::split($frame)];
        }
        self::assertSame([
            [Frame::STREAM, '{"status":200,"headers":{"X-Stream":["1"]}}', 'abc'],
            [Frame::STREAM, '', 'def'],
            [Frame::STREAM, '', 'gh'],
            [0, '', ''],
        ], $frames);
    }

    public function testErrorFrame(): void
    {
        $this->receiveAnyRequest();

        $this->psr7->error('boom');

        self::assertSame(Frame::ERROR, $this->roadRunner->receive()->flags);
    }

    private function receiveAnyRequest(): void
    {
        $this->roadRunner->sendRequest('{"method":"GET","uri":"http://h/"}');
        self::assertNotNull($this->psr7->waitRequest());
    }

    private function tempFile(string $content): string
    {
        $file = (string) tempnam(sys_get_temp_dir(), 'upload');
        file_put_contents($file, $content);
        $this->tempFiles[] = $file;

        return $file;
    }
}
