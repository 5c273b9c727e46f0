<?php

declare(strict_types=1);

namespace PivotPHP\Runtime\RoadRunner\Tests;

use PHPUnit\Framework\TestCase;
use PivotPHP\Runtime\RoadRunner\Exception\ProtocolException;
use PivotPHP\Runtime\RoadRunner\Goridge\Frame;
use PivotPHP\Runtime\RoadRunner\Payload;
use PivotPHP\Runtime\RoadRunner\Relay\RelayInterface;
use PivotPHP\Runtime\RoadRunner\Relay\StreamRelay;
use PivotPHP\Runtime\RoadRunner\Tests\Support\FakeRoadRunner;
use PivotPHP\Runtime\RoadRunner\Worker;

/**
 * The worker state machine, in process, over a socket pair.
 */
final class WorkerTest extends TestCase
{
    private Worker $worker;
    private FakeRoadRunner $roadRunner;

    protected function setUp(): void
    {
        [$workerEnd, $roadRunnerEnd] = stream_socket_pair(STREAM_PF_UNIX, STREAM_SOCK_STREAM, STREAM_IPPROTO_IP);
        $this->worker = new Worker(new StreamRelay($workerEnd, $workerEnd));
        $this->roadRunner = new FakeRoadRunner(new StreamRelay($roadRunnerEnd, $roadRunnerEnd));
    }

    public function testPayloadIsSplitIntoContextAndBody(): void
    {
        $this->roadRunner->sendRequest('{"a":1}', 'hello');

        $payload = $this->worker->waitPayload();

        self::assertSame('{"a":1}', $payload?->context);
        self::assertSame('hello', $payload->body);
        self::assertTrue($this->worker->hasPendingRequest());
    }

    public function testEmptyContextOrBody(): void
    {
        $this->roadRunner->sendRequest('', 'body only', Frame::CODEC_RAW);
        $this->roadRunner->sendRequest('{"ctx":"only"}');

        $first = $this->worker->waitPayload();
        self::assertSame(['', 'body only'], [$first?->context, $first?->body]);
        $this->worker->respond(new Payload());

        $second = $this->worker->waitPayload();
        self::assertSame(['{"ctx":"only"}', ''], [$second?->context, $second?->body]);
    }

    public function testResponseFrameHasOneOptionAndNoFlags(): void
    {
        $this->roadRunner->sendRequest('{}', 'x');
        $this->worker->waitPayload();

        $this->worker->respond(new Payload('{"status":200,"headers":{}}', 'OK'));

        $frame = $this->roadRunner->receive();
        self::assertSame(0, $frame->flags);
        self::assertSame(0, $frame->streamFlags);
        self::assertSame([27], $frame->options);
        self::assertSame('{"status":200,"headers":{}}OK', $frame->payload);
        self::assertFalse($this->worker->hasPendingRequest());
    }

    /**
     * respondWith() is respond() without the Payload object; our relays send it without a
     * Frame object, any other relay gets the same Frame as respond() builds.
     */
    public function testRespondWithSendsTheFramesRespondSends(): void
    {
        [$workerEnd, $roadRunnerEnd] = stream_socket_pair(STREAM_PF_UNIX, STREAM_SOCK_STREAM, STREAM_IPPROTO_IP);
        $inner = new StreamRelay($workerEnd, $workerEnd);
        $decorated = self::decorate($inner);
        $roadRunner = new FakeRoadRunner(new StreamRelay($roadRunnerEnd, $roadRunnerEnd));

        foreach ([$this->worker, new Worker($decorated)] as $worker) {
            $rr = $worker === $this->worker ? $this->roadRunner : $roadRunner;
            $frames = [];
            foreach (['respond', 'respondWith'] as $method) {
                $rr->sendRequest('{}', 'x');
                $worker->waitPayload();
                if ($method === 'respond') {
                    $worker->respond(new Payload('{"h":1}', 'a'), true);
                    $worker->respond(new Payload('', 'b'));
                } else {
                    $worker->respondWith('{"h":1}', 'a', true);
                    self::assertTrue($worker->hasPendingRequest(), 'a stream keeps the request open');
                    $worker->respondWith('', 'b');
                }
                self::assertFalse($worker->hasPendingRequest());
                $frames[$method] = [$rr->receive(), $rr->receive()];
            }
            self::assertEquals($frames['respond'], $frames['respondWith']);
            self::assertSame([Frame::STREAM, '{"h":1}a'], $this->streamFlagsAndPayload($frames['respondWith'][0]));
            self::assertSame([0, 'b'], $this->streamFlagsAndPayload($frames['respondWith'][1]));
        }
    }

    /** Our relays hand requests over as Payloads; any other relay's Frames give the same. */
    public function testAnyRelayGivesTheSamePayloads(): void
    {
        foreach ([false, true] as $decorate) {
            [$workerEnd, $roadRunnerEnd] = stream_socket_pair(STREAM_PF_UNIX, STREAM_SOCK_STREAM, STREAM_IPPROTO_IP);
            $relay = new StreamRelay($workerEnd, $workerEnd);
            $worker = new Worker($decorate ? self::decorate($relay) : $relay);
            $roadRunner = new FakeRoadRunner(new StreamRelay($roadRunnerEnd, $roadRunnerEnd));

            $roadRunner->sendPidRequest();
            $roadRunner->sendStreamFlag(Frame::PONG);
            $roadRunner->sendRequest('{"a":1}', 'hello');
            $roadRunner->sendRequest('', 'raw', Frame::CODEC_RAW);
            $roadRunner->sendFrame(new Frame('no option', [], Frame::CODEC_JSON));
            $roadRunner->sendStopCommand();

            $seen = [];
            while (($payload = $worker->waitPayload()) !== null) {
                $seen[] = [$payload->context, $payload->body];
                $worker->respondWith('');
            }
            self::assertSame([['{"a":1}', 'hello'], ['', 'raw'], ['', 'no option']], $seen, $decorate ? 'decorated' : 'StreamRelay');
            self::assertSame('{"pid":' . getmypid() . ',"pipelining":true}', $roadRunner->receive()->payload);
        }
    }

    /** A relay that is not one of ours: the worker must take the generic Frame path. */
    private static function decorate(RelayInterface $inner): RelayInterface
    {
        return new class ($inner) implements RelayInterface {
            public function __construct(private readonly RelayInterface $inner)
            {
            }

            public function send(Frame $frame): void
            {
                $this->inner->send($frame);
            }

            public function receive(): Frame
            {
                return $this->inner->receive();
            }

            public function hasPendingInput(float $timeout = 0.0): bool
            {
                return $this->inner->hasPendingInput($timeout);
            }
        };
    }

    public function testPidRequestIsAnsweredBeforeTheNextPayload(): void
    {
        $this->roadRunner->sendPidRequest();
        $this->roadRunner->sendRequest('{}', 'after');

        $payload = $this->worker->waitPayload();

        self::assertSame('after', $payload?->body);
        $reply = $this->roadRunner->receive();
        self::assertSame(Frame::CONTROL, $reply->flags);
        self::assertSame('{"pid":' . getmypid() . ',"pipelining":true}', $reply->payload);
    }

    public function testStopCommandEndsTheLoop(): void
    {
        $this->roadRunner->sendStopCommand();

        self::assertNull($this->worker->waitPayload());
        $this->roadRunner->assertNothingPending(0.0);
    }

    public function testStrayStopAndPongFramesAreSkipped(): void
    {
        $this->roadRunner->sendStreamFlag(Frame::PONG);
        $this->roadRunner->sendStreamFlag(Frame::STOP);
        $this->roadRunner->sendRequest('{}', 'real');

        self::assertSame('real', $this->worker->waitPayload()?->body);
    }

    public function testUnknownControlCommandsAreIgnored(): void
    {
        $this->roadRunner->sendControl('{"future":1}');
        $this->roadRunner->sendRequest('{}', 'real');

        self::assertSame('real', $this->worker->waitPayload()?->body);
        $this->roadRunner->assertNothingPending(0.0);
    }

    public function testInvalidControlFrameIsAProtocolError(): void
    {
        $this->roadRunner->sendControl('not json');

        $this->expectException(ProtocolException::class);
        $this->expectExceptionMessage('Invalid control frame from RoadRunner: not json');
        $this->worker->waitPayload();
    }

    public function testContextLongerThanThePayloadIsAProtocolError(): void
    {
        $this->roadRunner->sendFrame(new Frame('abc', [10], Frame::CODEC_JSON));

        $this->expectException(ProtocolException::class);
        $this->expectExceptionMessage('announces a 10-byte context but carries only 3 bytes');
        $this->worker->waitPayload();
    }

    public function testErrorFrame(): void
    {
        $this->roadRunner->sendRequest('{}', 'x');
        $this->worker->waitPayload();

        $this->worker->error('boom');

        $frame = $this->roadRunner->receive();
        self::assertSame(Frame::ERROR, $frame->flags);
        self::assertSame([], $frame->options);
        self::assertSame('boom', $frame->payload);
        self::assertFalse($this->worker->hasPendingRequest());
    }

    public function testStopAsksForARestartWithTheExactContext(): void
    {
        $this->roadRunner->sendRequest('{}', 'x');
        $this->worker->waitPayload();

        $this->worker->stop();

        $frame = $this->roadRunner->receive();
        self::assertSame(0, $frame->flags);
        self::assertSame([13], $frame->options);
        self::assertSame('{"stop":true}', $frame->payload);
    }

    /** @return array<string, array{0: \Closure(Worker): void}> */
    public static function answers(): array
    {
        return [
            'respond' => [static fn (Worker $worker) => $worker->respond(new Payload('{}', 'x'))],
            'respondWith' => [static fn (Worker $worker) => $worker->respondWith('{}', 'x')],
            'error' => [static fn (Worker $worker) => $worker->error('x')],
            'stop' => [static fn (Worker $worker) => $worker->stop()],
        ];
    }

    /** @dataProvider answers */
    public function testAnsweringWithoutARequestIsRefused(\Closure $answer): void
    {
        try {
            $answer($this->worker);
            self::fail('a stray frame would be read as the answer to the next request');
        } catch (ProtocolException $e) {
            self::assertStringContainsString('no request is waiting for a response', $e->getMessage());
        }
        $this->roadRunner->assertNothingPending(0.0);
    }

    public function testWaitingAgainBeforeAnsweringIsRefused(): void
    {
        $this->roadRunner->sendRequest('{}', 'x');
        $this->worker->waitPayload();

        $this->expectException(ProtocolException::class);
        $this->expectExceptionMessage('before the previous request was answered');
        $this->worker->waitPayload();
    }

    public function testStreamFramesCarryTheStreamBitUntilTheLast(): void
    {
        $this->roadRunner->sendRequest('{}', 'x');
        $this->worker->waitPayload();

        $this->worker->respond(new Payload('{"h":1}', 'a'), true);
        self::assertTrue($this->worker->hasPendingRequest(), 'a stream keeps the request open');
        $this->worker->respond(new Payload('', 'b'), true);
        $this->worker->respond(new Payload('', 'c'));

        self::assertSame([Frame::STREAM, '{"h":1}a'], $this->streamFlagsAndPayload($this->roadRunner->receive()));
        self::assertSame([Frame::STREAM, 'b'], $this->streamFlagsAndPayload($this->roadRunner->receive()));
        self::assertSame([0, 'c'], $this->streamFlagsAndPayload($this->roadRunner->receive()));
        self::assertFalse($this->worker->hasPendingRequest());
    }

    public function testStopBitIsSeenWithoutBlocking(): void
    {
        $this->roadRunner->sendRequest('{}', 'x');
        $this->worker->waitPayload();
        $this->worker->respond(new Payload('{}', 'a'), true);

        $start = microtime(true);
        self::assertFalse($this->worker->wasStreamStopped());
        self::assertLessThan(0.05, microtime(true) - $start, 'polling does not block');

        $this->roadRunner->sendStreamFlag(Frame::PONG);
        $this->roadRunner->sendStreamFlag(Frame::STOP);
        self::assertTrue($this->worker->wasStreamStopped());
        self::assertTrue($this->worker->wasStreamStopped(), 'the STOP bit is remembered');

        $this->worker->respond(new Payload());
        self::assertSame([Frame::STREAM, '{}a'], $this->streamFlagsAndPayload($this->roadRunner->receive()));
        self::assertSame([0, ''], $this->streamFlagsAndPayload($this->roadRunner->receive()));
    }

    public function testPidRequestDuringAStreamIsAnswered(): void
    {
        $this->roadRunner->sendRequest('{}', 'x');
        $this->worker->waitPayload();
        $this->worker->respond(new Payload('{}', 'a'), true);
        $this->roadRunner->receive();

        $this->roadRunner->sendPidRequest();
        self::assertFalse($this->worker->wasStreamStopped());

        self::assertSame('{"pid":' . getmypid() . ',"pipelining":true}', $this->roadRunner->receive()->payload);
    }

    public function testOtherFramesSeenWhilePollingAreKeptForLater(): void
    {
        $this->roadRunner->sendRequest('{}', 'x');
        $this->worker->waitPayload();
        $this->worker->respond(new Payload('{}', 'a'), true);

        $this->roadRunner->sendStopCommand();
        self::assertFalse($this->worker->wasStreamStopped());
        $this->worker->respond(new Payload());

        self::assertNull($this->worker->waitPayload(), 'the stop command was not lost');
    }

    public function testStopFlagIsResetForTheNextStream(): void
    {
        $this->roadRunner->sendRequest('{}', 'x');
        $this->worker->waitPayload();
        $this->worker->respond(new Payload('{}', 'a'), true);
        $this->roadRunner->sendStreamFlag(Frame::STOP);
        self::assertTrue($this->worker->wasStreamStopped());
        $this->worker->respond(new Payload());

        $this->roadRunner->sendRequest('{}', 'y');
        $this->worker->waitPayload();
        $this->worker->respond(new Payload('{}', 'b'), true);

        self::assertFalse($this->worker->wasStreamStopped());
    }

    /** @return array{0: int, 1: string} */
    private function streamFlagsAndPayload(Frame $frame): array
    {
        self::assertCount(1, $frame->options);

        return [$frame->streamFlags, $frame->payload];
    }
}
