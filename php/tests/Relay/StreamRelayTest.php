<?php

declare(strict_types=1);

namespace PivotPHP\Runtime\RoadRunner\Tests\Relay;

use PHPUnit\Framework\TestCase;
use PivotPHP\Runtime\RoadRunner\Exception\FrameException;
use PivotPHP\Runtime\RoadRunner\Exception\RelayException;
use PivotPHP\Runtime\RoadRunner\Goridge\Frame;
use PivotPHP\Runtime\RoadRunner\Goridge\FrameCodec;
use PivotPHP\Runtime\RoadRunner\Payload;
use PivotPHP\Runtime\RoadRunner\Relay\StreamRelay;
use PivotPHP\Runtime\RoadRunner\Tests\Support\TrickleStream;

final class StreamRelayTest extends TestCase
{
    /** @var list<resource> */
    private array $streams = [];

    protected function tearDown(): void
    {
        foreach ($this->streams as $stream) {
            if (is_resource($stream)) {
                fclose($stream);
            }
        }
    }

    public function testFramesCrossASocketPairInBothDirections(): void
    {
        [$a, $b] = $this->socketPair();
        $left = new StreamRelay($a, $a);
        $right = new StreamRelay($b, $b);

        $left->send(new Frame('{"a":1}hello', [7], Frame::CODEC_JSON));
        $frame = $right->receive();
        self::assertSame('{"a":1}hello', $frame->payload);
        self::assertSame([7], $frame->options);
        self::assertSame(Frame::CODEC_JSON, $frame->flags);

        $right->send(new Frame('', [], 0, Frame::PONG));
        self::assertSame(Frame::PONG, $left->receive()->streamFlags);
    }

    public function testWrittenBytesAreExactlyTheEncodedFrame(): void
    {
        [$a, $b] = $this->socketPair();
        $frame = new Frame('{"status":200,"headers":{}}OK', [27]);

        (new StreamRelay($b, $a))->send($frame);

        self::assertSame(FrameCodec::encode($frame), fread($b, 1000));
    }

    public function testHasPendingInputPollsWithoutBlocking(): void
    {
        [$a, $b] = $this->socketPair();
        $reader = new StreamRelay($b, $b);

        $start = microtime(true);
        self::assertFalse($reader->hasPendingInput(0.0));
        self::assertFalse($reader->hasPendingInput(0.05));
        $elapsed = microtime(true) - $start;
        self::assertGreaterThanOrEqual(0.04, $elapsed, 'the timeout is honoured');
        self::assertLessThan(1.0, $elapsed);

        (new StreamRelay($a, $a))->send(new Frame('', [], 0, Frame::STOP));
        self::assertTrue($reader->hasPendingInput(0.0));
        self::assertSame(Frame::STOP, $reader->receive()->streamFlags);
        self::assertFalse($reader->hasPendingInput(0.0));
    }

    public function testSeveralFramesInOneBufferAreReadOneByOne(): void
    {
        [$a, $b] = $this->socketPair();
        fwrite($a, FrameCodec::encode(new Frame('one', [0])) . FrameCodec::encode(new Frame('two', [1])));
        $reader = new StreamRelay($b, $b);

        self::assertSame('one', $reader->receive()->payload);
        // The second frame now sits in PHP's read buffer: polling must still see it.
        self::assertTrue($reader->hasPendingInput(0.0));
        self::assertSame('two', $reader->receive()->payload);
    }

    public function testMemoryStreamsWork(): void
    {
        $memory = $this->track(fopen('php://memory', 'w+b'));
        $relay = new StreamRelay($memory, $memory);
        $relay->send(new Frame('first', [2]));
        $relay->send(new Frame('{"pid":1}', [], Frame::CONTROL));
        rewind($memory);

        self::assertTrue($relay->hasPendingInput());
        self::assertSame('first', $relay->receive()->payload);
        self::assertSame(Frame::CONTROL, $relay->receive()->flags);
        self::assertFalse($relay->hasPendingInput());
    }

    public function testReadsLoopOverOneByteReads(): void
    {
        $bytes = FrameCodec::encode(new Frame('{"a":1}hello', [7], Frame::CODEC_JSON));
        $stream = $this->track(TrickleStream::open($bytes, 1));
        self::assertSame(1, strlen(fread($this->track(TrickleStream::open('abc', 1)), 10)), 'the wrapper trickles');

        $frame = (new StreamRelay($stream, $stream))->receive();

        self::assertSame('{"a":1}hello', $frame->payload);
        self::assertSame([7], $frame->options);
    }

    public function testTenMegabytesArriveThroughSmallPartialReads(): void
    {
        $payload = random_bytes(10 * 1024 * 1024);
        $stream = $this->track(TrickleStream::open(FrameCodec::encode(new Frame($payload, [0], Frame::CODEC_RAW)), 65521));

        $frame = (new StreamRelay($stream, $stream))->receive();

        self::assertSame(strlen($payload), strlen($frame->payload));
        self::assertTrue($frame->payload === $payload, 'payload intact');
    }

    public function testWritesLoopOverPartialWrites(): void
    {
        $small = new Frame('{"status":200,"headers":{}}OK', [27]);
        $large = new Frame(str_repeat('y', 3 * 1024 * 1024), [0]); // sent as header + payload
        $stream = $this->track(TrickleStream::open('', 7));
        $relay = new StreamRelay($stream, $stream);

        $relay->send($small);
        $relay->send($large);

        self::assertSame(FrameCodec::encode($small) . FrameCodec::encode($large), TrickleStream::contents($stream));
    }

    public function testEndOfStreamInTheMiddleOfAFrameIsARelayError(): void
    {
        $bytes = substr(FrameCodec::encode(new Frame('hello', [0])), 0, -2);
        $stream = $this->track(TrickleStream::open($bytes, 4));

        $this->expectException(RelayException::class);
        $this->expectExceptionMessage('RoadRunner closed the relay (EOF after 3 of 5 bytes)');
        (new StreamRelay($stream, $stream))->receive();
    }

    public function testPeerClosingBeforeAFrameIsARelayError(): void
    {
        [$a, $b] = $this->socketPair();
        fclose($a);

        $this->expectException(RelayException::class);
        $this->expectExceptionMessage('EOF after 0 of 12 bytes');
        (new StreamRelay($b, $b))->receive();
    }

    public function testGarbageIsAFrameError(): void
    {
        [$a, $b] = $this->socketPair();
        fwrite($a, "this is not a goridge frame\n");

        $this->expectException(FrameException::class);
        $this->expectExceptionMessage('CRC mismatch');
        (new StreamRelay($b, $b))->receive();
    }

    public function testWritingToAClosedPeerIsARelayError(): void
    {
        [$a, $b] = $this->socketPair();
        fclose($b);

        $this->expectException(RelayException::class);
        $this->expectExceptionMessage('Writing to RoadRunner failed');
        $relay = new StreamRelay($a, $a);
        for ($i = 0; $i < 100; $i++) {
            $relay->send(new Frame(str_repeat('z', 65536), [0]));
        }
    }

    /** @return array<string, array{0: int}> */
    public static function chunkSizes(): array
    {
        return ['5 bytes' => [5], '13 bytes' => [13], '4 KiB' => [4096], '64 KiB' => [65536]];
    }

    /**
     * Frames are read ahead (one fread() may bring several, or end inside one): however the
     * bytes are cut, every frame comes out whole and in order.
     *
     * @dataProvider chunkSizes
     */
    public function testFramesReadAheadComeOutWholeWhereverTheReadsEnd(int $chunk): void
    {
        $frames = [
            new Frame('{"a":1}hello', [7], Frame::CODEC_JSON),
            new Frame('', [], 0, Frame::PONG),
            new Frame('{"pid":1}', [], Frame::CONTROL | Frame::CODEC_JSON),
            new Frame(str_repeat('b', 70000), [0], Frame::CODEC_RAW), // more than one read
            new Frame('rpc', [1, 2, 0xFFFFFFFF], Frame::CODEC_JSON, Frame::STREAM),
            new Frame('', [0]),
            new Frame(str_repeat('c', 200000), [100], Frame::CODEC_RAW),
            new Frame('last', [4]),
        ];
        $stream = $this->track(TrickleStream::open(implode('', array_map(FrameCodec::encode(...), $frames)), $chunk));
        $relay = new StreamRelay($stream, $stream);

        foreach ($frames as $i => $expected) {
            $frame = $relay->receive();
            self::assertTrue($frame->payload === $expected->payload, "payload of frame $i");
            self::assertSame(
                [$expected->options, $expected->flags, $expected->streamFlags],
                [$frame->options, $frame->flags, $frame->streamFlags],
                "frame $i",
            );
        }
    }

    public function testAFrameReadAheadIsPendingInputAndTheStreamIsNotReadAgain(): void
    {
        [$a, $b] = $this->socketPair();
        fwrite($a, FrameCodec::encode(new Frame('one', [0])) . FrameCodec::encode(new Frame('', [], 0, Frame::STOP)));
        $reader = new StreamRelay($b, $b);

        self::assertSame('one', $reader->receive()->payload);
        $read = [$b];
        $none = null;
        self::assertSame(0, stream_select($read, $none, $none, 0), 'the socket is drained: the relay holds the STOP frame');
        self::assertTrue($reader->hasPendingInput(0.0));
        self::assertSame(Frame::STOP, $reader->receive()->streamFlags);
        self::assertFalse($reader->hasPendingInput(0.0));
    }

    /**
     * A frame that sits in PHP's own read buffer (left by another fread() on the stream) is
     * taken as is: an fread() for more would block although the frame is complete.
     */
    public function testAFrameInPhpsReadBufferIsNotWaitedFor(): void
    {
        [$a, $b] = $this->socketPair();
        stream_set_timeout($b, 2);
        fwrite($a, 'xyz' . FrameCodec::encode(new Frame('before', [0])));
        self::assertSame('xyz', fread($b, 3)); // PHP's buffer now holds the whole frame

        $relay = new StreamRelay($b, $b);
        $start = microtime(true);
        self::assertTrue($relay->hasPendingInput(0.0));
        self::assertSame('before', $relay->receive()->payload);

        // Reads by others after the relay exists take only what they ask for.
        fwrite($a, 'garbage' . FrameCodec::encode(new Frame('after', [0])));
        self::assertSame('garbage', fread($b, 7));
        self::assertTrue($relay->hasPendingInput(1.0));
        self::assertSame('after', $relay->receive()->payload);
        self::assertLessThan(1.0, microtime(true) - $start, 'no read waited for bytes that never come');
    }

    public function testGarbageAfterAFrameReadAheadIsAFrameError(): void
    {
        [$a, $b] = $this->socketPair();
        fwrite($a, FrameCodec::encode(new Frame('ok', [0])) . "this is not a goridge frame\n");
        $reader = new StreamRelay($b, $b);

        self::assertSame('ok', $reader->receive()->payload);
        $this->expectException(FrameException::class);
        $this->expectExceptionMessage('CRC mismatch');
        $reader->receive();
    }

    /** @return array<string, array{0: string, 1: string, 2: int}> */
    public static function payloads(): array
    {
        return [
            'context and body' => ['{"status":200,"headers":{}}', 'OK', 0],
            'empty' => ['', '', 0],
            'body only, stream bit' => ['', 'chunk', Frame::STREAM],
            'large body (header written apart)' => ['{"status":200,"headers":{}}', str_repeat('y', 3 * 1024 * 1024), 0],
        ];
    }

    /**
     * sendPayload() is the worker's shortcut for send(new Frame(...)): the same bytes, also
     * through partial writes.
     *
     * @dataProvider payloads
     */
    public function testSendPayloadWritesExactlyTheFrameSendWould(string $context, string $body, int $streamFlags): void
    {
        $expected = FrameCodec::encode(new Frame($context . $body, [strlen($context)], 0, $streamFlags));

        $stream = $this->track(TrickleStream::open('', 7));
        (new StreamRelay($stream, $stream))->sendPayload($context, $body, $streamFlags);
        self::assertTrue($expected === TrickleStream::contents($stream), 'through 7-byte writes');

        if (strlen($body) > 100000) {
            return; // more than a socket pair buffers without a reader
        }
        [$a, $b] = $this->socketPair();
        $reader = new StreamRelay($b, $b);
        (new StreamRelay($a, $a))->sendPayload($context, $body, $streamFlags);
        $frame = $reader->receive();
        self::assertTrue($frame->payload === $context . $body);
        self::assertSame([[strlen($context)], 0, $streamFlags], [$frame->options, $frame->flags, $frame->streamFlags]);
    }

    public function testSendPayloadRefusesStreamFlagsBeyondOneByte(): void
    {
        [$a] = $this->socketPair();

        $this->expectException(FrameException::class);
        (new StreamRelay($a, $a))->sendPayload('', 'x', 0x100);
    }

    /** receivePayload(): plain request frames as Payloads, everything else as the Frame. */
    public function testReceivePayloadSplitsPlainRequestFramesOnly(): void
    {
        $frames = [
            [new Frame('{"a":1}hello', [7], Frame::CODEC_JSON), ['{"a":1}', 'hello']],
            [new Frame('body only', [0], Frame::CODEC_RAW), ['', 'body only']],
            [new Frame('{"ctx":"only"}', [14], Frame::CODEC_JSON), ['{"ctx":"only"}', '']],
            [new Frame('', [0]), ['', '']],
            [new Frame('{}x', [2], Frame::CODEC_JSON, Frame::STREAM), ['{}', 'x']],
            [new Frame(str_repeat('z', 100000), [10], Frame::CODEC_RAW), [str_repeat('z', 10), str_repeat('z', 99990)]],
            [new Frame('{"pid":1}', [], Frame::CONTROL | Frame::CODEC_JSON), null],
            [new Frame('{"stop":true}', [13], Frame::CONTROL | Frame::CODEC_JSON), null],
            [new Frame('', [0], 0, Frame::PONG), null],
            [new Frame('', [0], 0, Frame::STOP), null],
            [new Frame('no options', [], Frame::CODEC_JSON), null],
            [new Frame('two options', [3, 4], Frame::CODEC_JSON), null],
            [new Frame('abc', [10], Frame::CODEC_JSON), null], // context longer than the payload
            [new Frame('last', [4]), ['last', '']],
        ];
        $stream = $this->track(TrickleStream::open(implode('', array_map(static fn (array $f) => FrameCodec::encode($f[0]), $frames)), 4096));
        $relay = new StreamRelay($stream, $stream);

        foreach ($frames as $i => [$frame, $split]) {
            $received = $relay->receivePayload();
            if ($split === null) {
                self::assertInstanceOf(Frame::class, $received, "frame $i");
                self::assertSame(FrameCodec::encode($frame), FrameCodec::encode($received), "frame $i");
            } else {
                self::assertInstanceOf(Payload::class, $received, "frame $i");
                self::assertTrue([$received->context, $received->body] === $split, "frame $i");
            }
        }
    }

    public function testRequiresStreamResources(): void
    {
        $this->expectException(RelayException::class);
        new StreamRelay('php://stdin', 'php://stdout');
    }

    /** @return array{0: resource, 1: resource} */
    private function socketPair(): array
    {
        $pair = stream_socket_pair(STREAM_PF_UNIX, STREAM_SOCK_STREAM, STREAM_IPPROTO_IP);
        self::assertIsArray($pair);
        foreach ($pair as $stream) {
            $this->track($stream);
        }

        return $pair;
    }

    /** @param resource $stream */
    private function track($stream)
    {
        $this->streams[] = $stream;

        return $stream;
    }
}
