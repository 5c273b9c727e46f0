<?php

declare(strict_types=1);

namespace PivotPHP\Runtime\RoadRunner\Tests;

use PHPUnit\Framework\TestCase;
use PivotPHP\Runtime\RoadRunner\Goridge\Frame;
use PivotPHP\Runtime\RoadRunner\Goridge\FrameCodec;
use PivotPHP\Runtime\RoadRunner\Relay\StreamRelay;
use PivotPHP\Runtime\RoadRunner\Tests\Support\FakeRoadRunner;
use PivotPHP\Runtime\RoadRunner\Tests\Support\WorkerProcess;

/**
 * tests/fixtures/echo-worker.php run as a real process and driven exactly like RoadRunner
 * drives it: frames on its STDIN, frames read back from its STDOUT.
 *
 * The process is started with display_errors=stdout, so only the worker's own output guard
 * keeps PHP warnings off STDOUT.
 */
final class WorkerProcessTest extends TestCase
{
    private const SCRIPT = __DIR__ . '/fixtures/echo-worker.php';

    public function testHandshakeRequestsAndStop(): void
    {
        $worker = new WorkerProcess(self::SCRIPT);
        $worker->handshake();

        [$context, $body, $frame] = $worker->roadRunner->exchange('{"a":1}', 'hello');
        self::assertSame('{"a":1}', $context);
        self::assertSame($worker->pid . ':hello', $body);
        self::assertSame(0, $frame->flags);
        self::assertSame(0, $frame->streamFlags);

        $worker->roadRunner->sendStopCommand();
        self::assertSame(0, $worker->waitForExit());
        self::assertSame('', $worker->remainingStdout(), 'nothing but frames on STDOUT');
        self::assertStringContainsString('echo-worker stopped', $worker->stderr());
    }

    public function testPidRequestInTheMiddleOfTheConversation(): void
    {
        $worker = new WorkerProcess(self::SCRIPT);
        $worker->handshake();
        $worker->roadRunner->exchange('{}', 'one');

        $worker->handshake();

        [, $body] = $worker->roadRunner->exchange('{}', 'two');
        self::assertSame($worker->pid . ':two', $body);
    }

    public function testErrorFrameKeepsTheWorkerServing(): void
    {
        $worker = new WorkerProcess(self::SCRIPT);
        $worker->handshake();

        $worker->roadRunner->sendRequest('{}', 'error');
        $error = $worker->roadRunner->receive();
        self::assertSame(Frame::ERROR, $error->flags);
        self::assertSame([], $error->options);
        self::assertSame('boom', $error->payload);

        [, $body] = $worker->roadRunner->exchange('{}', 'still alive');
        self::assertSame($worker->pid . ':still alive', $body);
        self::assertTrue($worker->isRunning());
    }

    public function testStrayPongAndStopFramesAreSkipped(): void
    {
        $worker = new WorkerProcess(self::SCRIPT);
        $worker->handshake();

        $worker->roadRunner->sendStreamFlag(Frame::PONG);
        $worker->roadRunner->sendStreamFlag(Frame::STOP);
        [, $body] = $worker->roadRunner->exchange('{}', 'after strays');

        self::assertSame($worker->pid . ':after strays', $body);
        $worker->roadRunner->assertNothingPending();
    }

    public function testOutputAndWarningsGoToStderrNeverStdout(): void
    {
        $worker = new WorkerProcess(self::SCRIPT);
        $worker->handshake();

        [$context, $body] = $worker->roadRunner->exchange('{}', 'echo');
        self::assertSame(['{"echoed":true}', 'ok'], [$context, $body]);
        [$context] = $worker->roadRunner->exchange('{}', 'warning');
        self::assertSame('{"warned":true}', $context);
        [, $body] = $worker->roadRunner->exchange('{}', 'next');
        self::assertSame($worker->pid . ':next', $body, 'the frame stream is still in sync');

        $worker->roadRunner->sendStopCommand();
        self::assertSame(0, $worker->waitForExit());
        self::assertSame('', $worker->remainingStdout());

        $stderr = $worker->stderr();
        self::assertStringContainsString("stray output\nmore stray output and printf\n", $stderr);
        self::assertStringContainsString('string(6) "dumped"', $stderr);
        self::assertStringContainsString('Undefined array key "nope"', $stderr);
    }

    public function testRestartRequestFrame(): void
    {
        $worker = new WorkerProcess(self::SCRIPT);
        $worker->handshake();

        [$context, $body, $frame] = $worker->roadRunner->exchange('{}', 'restart');

        self::assertSame(['{"stop":true}', ''], [$context, $body]);
        self::assertSame(0, $frame->flags);
    }

    public function testStreamedResponse(): void
    {
        $worker = new WorkerProcess(self::SCRIPT);
        $worker->handshake();
        $worker->roadRunner->sendRequest('{}', 'stream');

        $frames = [$worker->roadRunner->receive(), $worker->roadRunner->receive(), $worker->roadRunner->receive()];

        self::assertSame([Frame::STREAM, Frame::STREAM, 0], array_map(static fn (Frame $f) => $f->streamFlags, $frames));
        self::assertSame(['{"part":0}', 'a'], FakeRoadRunner::split($frames[0]));
        self::assertSame(['', 'b'], FakeRoadRunner::split($frames[1]));
        self::assertSame(['', 'c'], FakeRoadRunner::split($frames[2]));
    }

    public function testTenMegabyteBodiesCrossThePipes(): void
    {
        $worker = new WorkerProcess(self::SCRIPT);
        $worker->handshake();
        $body = random_bytes(10 * 1024 * 1024);

        // The worker answers while we still write: send from a child so neither side blocks.
        $frame = $this->exchangeLarge($worker, '{"big":true}', $body);

        [$context, $echoed] = FakeRoadRunner::split($frame);
        self::assertSame('{"big":true}', $context);
        self::assertSame(strlen($worker->pid . ':') + strlen($body), strlen($echoed));
        self::assertTrue($echoed === $worker->pid . ':' . $body, 'body intact both ways');
    }

    public function testEndOfInputMakesTheWorkerFail(): void
    {
        $worker = new WorkerProcess(self::SCRIPT);
        $worker->handshake();

        $worker->closeStdin();

        self::assertNotSame(0, $worker->waitForExit());
        self::assertStringContainsString('RoadRunner closed the relay', $worker->stderr());
    }

    /** @return array<string, array{0: string}> */
    public static function socketRelays(): array
    {
        return ['tcp' => ['tcp'], 'unix' => ['unix']];
    }

    /** @dataProvider socketRelays */
    public function testSocketRelayMode(string $kind): void
    {
        $directory = sys_get_temp_dir() . '/rr-worker-' . bin2hex(random_bytes(4));
        mkdir($directory);
        $listen = $kind === 'tcp' ? 'tcp://127.0.0.1:0' : "unix://$directory/rr.sock";
        $server = stream_socket_server($listen);
        self::assertIsResource($server);
        $address = $kind === 'tcp' ? 'tcp://' . stream_socket_get_name($server, false) : $listen;

        try {
            $worker = new WorkerProcess(self::SCRIPT, ['RR_RELAY' => $address]);
            $connection = stream_socket_accept($server, 5.0);
            self::assertIsResource($connection, "the worker connected to $address");
            $roadRunner = new FakeRoadRunner(new StreamRelay($connection, $connection));

            $roadRunner->sendPidRequest();
            self::assertSame('{"pid":' . $worker->pid . ',"pipelining":true}', $roadRunner->receive()->payload, 'the real pid pairs the connection');
            $roadRunner->sendRequest('{}', 'over ' . $kind);
            self::assertSame(['{}', $worker->pid . ':over ' . $kind], FakeRoadRunner::split($roadRunner->receive()));
            $roadRunner->sendStopCommand();

            self::assertSame(0, $worker->waitForExit());
            self::assertSame('', $worker->remainingStdout(), 'socket mode keeps STDOUT empty too');
        } finally {
            fclose($server);
            array_map('unlink', glob("$directory/*") ?: []);
            rmdir($directory);
        }
    }

    private function exchangeLarge(WorkerProcess $worker, string $context, string $body): Frame
    {
        [$stdin, $stdout] = $worker->stdio();
        $bytes = FrameCodec::encode(new Frame($context . $body, [strlen($context)], Frame::CODEC_JSON));

        stream_set_blocking($stdin, false);
        $response = '';
        $expected = null;
        $deadline = microtime(true) + 20;
        while ($expected === null || strlen($response) < $expected) {
            if (microtime(true) > $deadline) {
                self::fail('The 10 MB exchange timed out');
            }
            $read = [$stdout];
            $write = $bytes === '' ? null : [$stdin];
            $except = null;
            stream_select($read, $write, $except, 1);
            if ($write) {
                $written = fwrite($stdin, $bytes);
                $bytes = (string) substr($bytes, (int) $written);
            }
            if ($read) {
                $response .= (string) fread($stdout, 1 << 20);
                if ($expected === null && strlen($response) >= 16) {
                    $expected = 16 + unpack('V', $response, 2)[1];
                }
            }
        }
        stream_set_blocking($stdin, true);

        return FrameCodec::decode($response);
    }
}
