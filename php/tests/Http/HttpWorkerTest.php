<?php

declare(strict_types=1);

namespace PivotPHP\Runtime\RoadRunner\Tests\Http;

use PHPUnit\Framework\TestCase;
use PivotPHP\Runtime\RoadRunner\Exception\InvalidResponseException;
use PivotPHP\Runtime\RoadRunner\Goridge\Frame;
use PivotPHP\Runtime\RoadRunner\Goridge\FrameCodec;
use PivotPHP\Runtime\RoadRunner\Http\HttpWorker;
use PivotPHP\Runtime\RoadRunner\Relay\StreamRelay;
use PivotPHP\Runtime\RoadRunner\Tests\Support\FakeRoadRunner;
use PivotPHP\Runtime\RoadRunner\Worker;

final class HttpWorkerTest extends TestCase
{
    private const CONTEXT = '{"remoteAddr":"127.0.0.1","protocol":"HTTP/1.1","method":"GET","uri":"http://127.0.0.1:8080/hello",'
        . '"headers":{"Accept":["*/*"]},"cookies":{},"rawQuery":"","parsed":false,"uploads":null,"attributes":{}}';

    private HttpWorker $http;
    private FakeRoadRunner $roadRunner;

    /** @var resource */
    private $roadRunnerEnd;

    protected function setUp(): void
    {
        [$workerEnd, $this->roadRunnerEnd] = stream_socket_pair(STREAM_PF_UNIX, STREAM_SOCK_STREAM, STREAM_IPPROTO_IP);
        $this->http = HttpWorker::create(new Worker(new StreamRelay($workerEnd, $workerEnd)));
        $this->roadRunner = new FakeRoadRunner(new StreamRelay($this->roadRunnerEnd, $this->roadRunnerEnd));
    }

    public function testWaitRequestDecodesTheContext(): void
    {
        $this->roadRunner->sendRequest(self::CONTEXT, 'the body');

        $request = $this->http->waitRequest();

        self::assertSame('GET', $request?->method);
        self::assertSame('/hello', $request->path());
        self::assertSame('*/*', $request->header('accept'));
        self::assertSame('the body', $request->body);
    }

    public function testResponseIsTheSpecFrameByteForByte(): void
    {
        $this->roadRunner->sendRequest(self::CONTEXT);
        $this->http->waitRequest();

        $this->http->respond(200, 'OK');

        // wire-protocol.md §1.5: response ctx {"status":200,"headers":{}}, body OK.
        $expected = hex2bin('14001d0000006c6ef68b00001b000000') . '{"status":200,"headers":{}}OK';
        self::assertSame($expected, fread($this->roadRunnerEnd, 1000));
    }

    public function testResponseWithHeaders(): void
    {
        $this->roadRunner->sendRequest(self::CONTEXT);
        $this->http->waitRequest();

        $this->http->respond(404, '{"error":"not found"}', [
            'Content-Type' => 'application/json',
            'Set-Cookie' => ['a=1; Path=/', 'b=2; Path=/; HttpOnly'],
        ]);

        [$context, $body] = FakeRoadRunner::split($this->roadRunner->receive());
        self::assertSame(
            '{"status":404,"headers":{"Content-Type":["application/json"],"Set-Cookie":["a=1; Path=/","b=2; Path=/; HttpOnly"]}}',
            $context,
        );
        self::assertSame('{"error":"not found"}', $body);
    }

    public function testInvalidStatusIsRefusedAndNothingIsSent(): void
    {
        $this->roadRunner->sendRequest(self::CONTEXT);
        $this->http->waitRequest();

        try {
            $this->http->respond(600);
            self::fail('status 600 must be refused');
        } catch (InvalidResponseException) {
        }

        $this->roadRunner->assertNothingPending(0.0);
        self::assertTrue($this->http->worker()->hasPendingRequest(), 'the request can still be answered');
    }

    public function testErrorFrame(): void
    {
        $this->roadRunner->sendRequest(self::CONTEXT);
        $this->http->waitRequest();

        $this->http->error('boom');

        $frame = $this->roadRunner->receive();
        self::assertSame([Frame::ERROR, 'boom'], [$frame->flags, $frame->payload]);
    }

    public function testUndecodableRequestIsFailedAndTheNextOneServed(): void
    {
        $this->roadRunner->sendRequest('{"broken":');
        $this->roadRunner->sendRequest(self::CONTEXT, 'second');

        $request = $this->http->waitRequest();

        self::assertSame('second', $request?->body);
        $error = $this->roadRunner->receive();
        self::assertSame(Frame::ERROR, $error->flags);
        self::assertStringStartsWith('Invalid request context JSON', $error->payload);
    }

    public function testStopCommandEndsTheLoop(): void
    {
        $this->roadRunner->sendStopCommand();

        self::assertNull($this->http->waitRequest());
    }

    public function testStreamSendsTheContextOnceAndClearsStreamOnTheLastFrame(): void
    {
        $this->roadRunner->sendRequest(self::CONTEXT);
        $this->http->waitRequest();

        $completed = $this->http->respondStream(200, ["chunk 0\n", "chunk 1\n", "chunk 2\n"], ['Content-Type' => 'text/plain']);

        self::assertTrue($completed);
        self::assertSame([
            [Frame::STREAM, '{"status":200,"headers":{"Content-Type":["text/plain"]}}', "chunk 0\n"],
            [Frame::STREAM, '', "chunk 1\n"],
            [Frame::STREAM, '', "chunk 2\n"],
            [0, '', ''],
        ], $this->receiveFrames(4));
        self::assertFalse($this->http->worker()->hasPendingRequest());
    }

    public function testEmptyStreamIsOnePlainResponse(): void
    {
        $this->roadRunner->sendRequest(self::CONTEXT);
        $this->http->waitRequest();

        self::assertTrue($this->http->respondStream(204, []));

        self::assertSame([[0, '{"status":204,"headers":{}}', '']], $this->receiveFrames(1));
        $this->roadRunner->assertNothingPending(0.0);
    }

    public function testStopBitEndsTheStreamWithAFinalFrame(): void
    {
        $this->roadRunner->sendRequest(self::CONTEXT);
        $this->http->waitRequest();
        $produced = [];
        $chunks = (function () use (&$produced) {
            for ($i = 0; $i < 100; $i++) {
                $produced[] = $i;
                if ($i === 2) {
                    // The client goes away while chunk 2 is produced.
                    $this->roadRunner->sendStreamFlag(Frame::STOP);
                }
                yield "chunk $i\n";
            }
        })();

        $completed = $this->http->respondStream(200, $chunks);

        self::assertFalse($completed);
        self::assertSame([0, 1, 2], $produced, 'no chunk is produced after the STOP bit');
        self::assertSame([
            [Frame::STREAM, '{"status":200,"headers":{}}', "chunk 0\n"],
            [Frame::STREAM, '', "chunk 1\n"],
            [Frame::STREAM, '', "chunk 2\n"],
            [0, '', ''],
        ], $this->receiveFrames(4));
        $this->roadRunner->assertNothingPending(0.0);

        $this->roadRunner->sendRequest(self::CONTEXT, 'next');
        self::assertSame('next', $this->http->waitRequest()?->body, 'the worker serves the next request');
    }

    public function testFailureBeforeTheFirstChunkSendsNothing(): void
    {
        $this->roadRunner->sendRequest(self::CONTEXT);
        $this->http->waitRequest();
        $chunks = (static function () {
            throw new \RuntimeException('no data');
            yield 'never';
        })();

        try {
            $this->http->respondStream(200, $chunks);
            self::fail('the exception must reach the caller');
        } catch (\RuntimeException $e) {
            self::assertSame('no data', $e->getMessage());
        }

        $this->roadRunner->assertNothingPending(0.0);
        self::assertTrue($this->http->worker()->hasPendingRequest(), 'the caller can still send an error');
    }

    public function testFailureMidStreamEndsItWithAnErrorFrame(): void
    {
        $this->roadRunner->sendRequest(self::CONTEXT);
        $this->http->waitRequest();
        $chunks = (static function () {
            yield 'first';
            throw new \RuntimeException('disk gone');
        })();

        try {
            $this->http->respondStream(200, $chunks);
            self::fail('the exception must reach the caller');
        } catch (\RuntimeException $e) {
            self::assertSame('disk gone', $e->getMessage());
        }

        self::assertSame(Frame::STREAM, $this->roadRunner->receive()->streamFlags);
        $error = $this->roadRunner->receive();
        self::assertSame([Frame::ERROR, 'Response stream failed: disk gone'], [$error->flags, $error->payload]);
        self::assertFalse($this->http->worker()->hasPendingRequest());
    }

    public function testLargeBodyIsSentIntact(): void
    {
        $this->roadRunner->sendRequest(self::CONTEXT);
        $this->http->waitRequest();
        $body = str_repeat('x', 3 * 1024 * 1024); // above the relay's separate-payload threshold

        // Read concurrently from a child process: a socket pair buffers far less than 3 MiB.
        $reader = $this->readInChild();
        $this->http->respond(200, $body, ['Content-Type' => 'application/octet-stream']);
        fclose($this->roadRunnerEnd);

        $received = $reader();
        $frame = FrameCodec::decode($received);
        [$context, $payloadBody] = FakeRoadRunner::split($frame);
        self::assertSame('{"status":200,"headers":{"Content-Type":["application/octet-stream"]}}', $context);
        self::assertTrue($payloadBody === $body, 'body intact');
    }

    /** @return list<array{0: int, 1: string, 2: string}> stream flags, context, body */
    private function receiveFrames(int $count): array
    {
        $frames = [];
        for ($i = 0; $i < $count; $i++) {
            $frame = $this->roadRunner->receive();
            $frames[] = [$frame->streamFlags, ...FakeRoadRunner::split($frame)];
        }

        return $frames;
    }

    /** Receives one frame on our RoadRunner end in a child process; the closure returns its bytes. */
    private function readInChild(): \Closure
    {
        $file = (string) tempnam(sys_get_temp_dir(), 'rr-read-');
        $code = 'require $argv[1]; use PivotPHP\Runtime\RoadRunner\Goridge\FrameCodec;'
            . ' use PivotPHP\Runtime\RoadRunner\Relay\StreamRelay;'
            . ' file_put_contents($argv[2], FrameCodec::encode((new StreamRelay(STDIN, STDIN))->receive()));';
        $process = proc_open(
            [PHP_BINARY, '-r', $code, '--', dirname(__DIR__, 2) . '/autoload.php', $file],
            [0 => $this->roadRunnerEnd, 1 => ['file', '/dev/null', 'w'], 2 => STDERR],
            $pipes,
        );
        self::assertIsResource($process);

        return static function () use ($process, $file): string {
            proc_close($process);
            $bytes = (string) file_get_contents($file);
            unlink($file);

            return $bytes;
        };
    }
}
