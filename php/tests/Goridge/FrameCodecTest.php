<?php

declare(strict_types=1);

namespace PivotPHP\Runtime\RoadRunner\Tests\Goridge;

use PHPUnit\Framework\TestCase;
use PivotPHP\Runtime\RoadRunner\Exception\FrameException;
use PivotPHP\Runtime\RoadRunner\Goridge\Frame;
use PivotPHP\Runtime\RoadRunner\Goridge\FrameCodec;

/**
 * Test vectors: wire-protocol.md §1.5 (frames built by Go's goridge or accepted by it).
 */
final class FrameCodecTest extends TestCase
{
    private const RESPONSE_CONTEXT = '{"status":200,"headers":{}}';

    /** @return array<string, array{0: string, 1: Frame}> */
    public static function specFrames(): array
    {
        return [
            'request ctx {"a":1} body hello, JSON' => [
                '14 08 0c000000 57152353 00 00 07000000' . self::hex('{"a":1}hello'),
                new Frame('{"a":1}hello', [7], Frame::CODEC_JSON),
            ],
            'RR pid control' => [
                '13 09 0c000000 5f0c4673 00 00' . self::hex('{"pid":1234}'),
                new Frame('{"pid":1234}', [], Frame::CONTROL | Frame::CODEC_JSON),
            ],
            'RR stop control' => [
                '13 09 0d000000 3a6bfacb 00 00' . self::hex('{"stop":true}'),
                new Frame('{"stop":true}', [], Frame::CONTROL | Frame::CODEC_JSON),
            ],
            'worker pid reply' => [
                '13 01 0c000000 9e473643 00 00' . self::hex('{"pid":4242}'),
                new Frame('{"pid":4242}', [], Frame::CONTROL),
            ],
            'response 200 OK' => [
                '14 00 1d000000 6c6ef68b 00 00 1b000000' . self::hex(self::RESPONSE_CONTEXT . 'OK'),
                new Frame(self::RESPONSE_CONTEXT . 'OK', [27]),
            ],
            'error boom' => [
                '13 40 04000000 881e11e3 00 00' . self::hex('boom'),
                new Frame('boom', [], Frame::ERROR),
            ],
            'stream chunk' => [
                '14 00 05000000 1c115b1e 01 00 00000000' . self::hex('chunk'),
                new Frame('chunk', [0], 0, Frame::STREAM),
            ],
            'PONG' => ['13 00 00000000 96d18034 08 00', new Frame('', [], 0, Frame::PONG)],
            'STOP bit' => ['13 00 00000000 96d18034 02 00', new Frame('', [], 0, Frame::STOP)],
        ];
    }

    /** @dataProvider specFrames */
    public function testEncodesSpecFramesByteForByte(string $hex, Frame $frame): void
    {
        self::assertSame(self::bytes($hex), FrameCodec::encode($frame));
    }

    /** @dataProvider specFrames */
    public function testDecodesSpecFrames(string $hex, Frame $expected): void
    {
        $frame = FrameCodec::decode(self::bytes($hex));

        self::assertSame($expected->flags, $frame->flags);
        self::assertSame($expected->streamFlags, $frame->streamFlags);
        self::assertSame($expected->options, $frame->options);
        self::assertSame($expected->payload, $frame->payload);
    }

    public function testHeaderAloneMatchesTheStartOfTheFrame(): void
    {
        $frame = new Frame('{"a":1}hello', [7], Frame::CODEC_JSON);

        self::assertSame(self::bytes('14 08 0c000000 57152353 00 00 07000000'), FrameCodec::encodeHeader($frame));
    }

    public function testCrcMismatchIsRejectedWithAClearMessage(): void
    {
        $bytes = self::bytes('13 40 04000000 881e11e4 00 00') . 'boom';

        $this->expectException(FrameException::class);
        $this->expectExceptionMessage('CRC mismatch (header says 0xe4111e88, bytes 0-5 give 0xe3111e88)');
        FrameCodec::decode($bytes);
    }

    public function testCorruptedLengthIsCaughtByTheCrc(): void
    {
        $bytes = FrameCodec::encode(new Frame('boom', [], Frame::ERROR));
        $bytes[2] = "\x05";

        $this->expectException(FrameException::class);
        $this->expectExceptionMessage('CRC mismatch');
        FrameCodec::decode($bytes);
    }

    public function testStdoutGarbageIsNotAFrame(): void
    {
        $this->expectException(FrameException::class);
        $this->expectExceptionMessage('not a frame');
        FrameCodec::decodeFixedHeader(substr("this is not a goridge frame\n", 0, 12));
    }

    public function testByte10IsNotCoveredByTheCrc(): void
    {
        $plain = FrameCodec::encode(new Frame('x', [1]));
        $stream = FrameCodec::encode(new Frame('x', [1], 0, Frame::STREAM | Frame::PING));

        self::assertSame(substr($plain, 0, 10), substr($stream, 0, 10));
        self::assertSame("\x05", $stream[10]);
        self::assertSame(Frame::STREAM | Frame::PING, FrameCodec::decode($stream)->streamFlags);
    }

    public function testVersionNibbleIsWrittenAsOneButNotChecked(): void
    {
        $bytes = FrameCodec::encode(new Frame('hi', [2]));
        self::assertSame(0x14, ord($bytes[0]));

        // Version 2 with a valid CRC still decodes, as in Go and the official client.
        $start = "\x24" . substr($bytes, 1, 5);
        $other = $start . pack('V', crc32($start)) . substr($bytes, 10);
        self::assertSame('hi', FrameCodec::decode($other)->payload);
    }

    public function testTenOptionsIsTheMaximum(): void
    {
        $options = range(1, 10);
        $bytes = FrameCodec::encode(new Frame('p', $options));

        self::assertSame(0x1d, ord($bytes[0]), 'HL = 3 + 10 = 13');
        self::assertSame(12 + 40 + 1, strlen($bytes));
        self::assertSame($options, FrameCodec::decode($bytes)->options);
    }

    public function testElevenOptionsAreRefused(): void
    {
        $this->expectException(FrameException::class);
        $this->expectExceptionMessage('at most 10 options, 11 given');
        new Frame('', range(1, 11));
    }

    public function testHeaderAnnouncingMoreThanTenOptionsIsRefused(): void
    {
        $start = "\x1e\x00" . pack('V', 0); // HL 14
        $header = $start . pack('V', crc32($start)) . "\0\0";

        $this->expectException(FrameException::class);
        $this->expectExceptionMessage('announces 11 options, the limit is 10');
        FrameCodec::decodeFixedHeader($header);
    }

    public function testHeaderShorterThanThreeWordsIsRefused(): void
    {
        $start = "\x12\x00" . pack('V', 0);

        $this->expectException(FrameException::class);
        $this->expectExceptionMessage('below the minimum of 3 words');
        FrameCodec::decodeFixedHeader($start . pack('V', crc32($start)) . "\0\0");
    }

    public function testOptionsMustBeUnsigned32BitIntegers(): void
    {
        $this->expectException(FrameException::class);
        new Frame('', [0x1_0000_0000]);
    }

    public function testFlagsMustFitInOneByte(): void
    {
        $this->expectException(FrameException::class);
        new Frame('', [], 0x100);
    }

    public function testOptionsAreLittleEndian(): void
    {
        $bytes = FrameCodec::encode(new Frame('', [0x01020304, 0xFFFFFFFF]));

        self::assertSame("\x04\x03\x02\x01\xff\xff\xff\xff", substr($bytes, 12, 8));
        self::assertSame([0x01020304, 0xFFFFFFFF], FrameCodec::decode($bytes)->options);
    }

    public function testTruncatedFrameIsRefused(): void
    {
        $bytes = FrameCodec::encode(new Frame('hello', [0]));

        $this->expectException(FrameException::class);
        $this->expectExceptionMessage('should be 21 bytes (header 16 + payload 5), got 20');
        FrameCodec::decode(substr($bytes, 0, -1));
    }

    public function testTrailingBytesAreRefused(): void
    {
        $this->expectException(FrameException::class);
        FrameCodec::decode(FrameCodec::encode(new Frame('hello', [0])) . 'x');
    }

    public function testTenMegabytePayloadRoundTrip(): void
    {
        $payload = random_bytes(1024) . str_repeat("\0\xff", 5 * 1024 * 1024);
        $bytes = FrameCodec::encode(new Frame($payload, [1024], Frame::CODEC_RAW));

        self::assertSame(pack('V', strlen($payload)), substr($bytes, 2, 4));
        $frame = FrameCodec::decode($bytes);
        self::assertSame([1024], $frame->options);
        self::assertTrue($frame->payload === $payload, 'payload survives intact');
    }

    public function testFlagHelpers(): void
    {
        $frame = new Frame('', [], Frame::CONTROL | Frame::CODEC_JSON, Frame::STOP);

        self::assertTrue($frame->hasFlag(Frame::CONTROL));
        self::assertTrue($frame->hasFlag(Frame::CODEC_JSON));
        self::assertFalse($frame->hasFlag(Frame::ERROR));
        self::assertTrue($frame->hasStreamFlag(Frame::STOP));
        self::assertFalse($frame->hasStreamFlag(Frame::PONG));
    }

    private static function hex(string $text): string
    {
        return bin2hex($text);
    }

    private static function bytes(string $hex): string
    {
        return (string) hex2bin(str_replace(' ', '', $hex));
    }
}
