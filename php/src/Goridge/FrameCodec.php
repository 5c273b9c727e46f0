<?php

declare(strict_types=1);

namespace PivotPHP\Runtime\RoadRunner\Goridge;

use PivotPHP\Runtime\RoadRunner\Exception\FrameException;

/**
 * Byte-exact goridge v3 encoding (wire-protocol.md §1).
 *
 * Header: `0x10 | HL`, flags, LE32 payload length, LE32 crc32 of bytes 0–5, byte10, 0,
 * then HL - 3 LE32 options; HL = 3 + option count.
 */
final class FrameCodec
{
    /** Size of the fixed part of the header that is always read first. */
    public const FIXED_HEADER_LENGTH = 12;

    private const VERSION = 0x10;

    /** Encodes the whole frame as one string, ready for a single write. */
    public static function encode(Frame $frame): string
    {
        return self::encodeHeader($frame) . $frame->payload;
    }

    /** Encodes the header only (fixed part + options), for writers that send the payload apart. */
    public static function encodeHeader(Frame $frame): string
    {
        return self::encodeHeaderFields($frame->flags, strlen($frame->payload), $frame->streamFlags, ...$frame->options);
    }

    /**
     * The header of a frame given by its fields, for senders that do not build a Frame.
     */
    public static function encodeHeaderFields(int $flags, int $payloadLength, int $streamFlags, int ...$options): string
    {
        // Bytes 0-5: version/HL, flags, payload length; the CRC covers exactly these.
        $start = pack('CCV', self::VERSION | (3 + count($options)), $flags, $payloadLength);

        // CRC, byte10, reserved zero byte, then the options (one pack call: this is per frame).
        return $start . pack('VCxV*', crc32($start), $streamFlags, ...$options);
    }

    /**
     * Parses and validates the 12 fixed header bytes.
     *
     * @return array{0: int, 1: int, 2: int, 3: int} flags, stream flags, option count, payload length
     */
    public static function decodeFixedHeader(string $fixed): array
    {
        if (strlen($fixed) !== self::FIXED_HEADER_LENGTH) {
            throw new FrameException(sprintf(
                'A goridge header starts with %d bytes, got %d',
                self::FIXED_HEADER_LENGTH,
                strlen($fixed),
            ));
        }

        $expectedCrc = unpack('V', $fixed, 6)[1];
        $actualCrc = crc32(substr($fixed, 0, 6));
        if ($expectedCrc !== $actualCrc) {
            throw new FrameException(sprintf(
                'Goridge header CRC mismatch (header says 0x%08x, bytes 0-5 give 0x%08x): '
                . 'the peer wrote something that is not a frame, header bytes %s',
                $expectedCrc,
                $actualCrc,
                bin2hex($fixed),
            ));
        }

        // The version nibble is deliberately not checked, like Go and the official client.
        $headerWords = ord($fixed[0]) & 0x0F;
        if ($headerWords < 3) {
            throw new FrameException(sprintf('Goridge header length %d is below the minimum of 3 words', $headerWords));
        }
        $optionCount = $headerWords - 3;
        if ($optionCount > Frame::MAX_OPTIONS) {
            throw new FrameException(sprintf(
                'Goridge header announces %d options, the limit is %d',
                $optionCount,
                Frame::MAX_OPTIONS,
            ));
        }

        return [ord($fixed[1]), ord($fixed[10]), $optionCount, unpack('V', $fixed, 2)[1]];
    }

    /**
     * @return list<int>
     */
    public static function decodeOptions(string $bytes): array
    {
        if ($bytes === '') {
            return [];
        }
        if (strlen($bytes) % 4 !== 0) {
            throw new FrameException(sprintf('Goridge options are 4-byte words, got %d bytes', strlen($bytes)));
        }

        return array_values(unpack('V*', $bytes));
    }

    /** Decodes one complete frame held in a string; extra or missing bytes are an error. */
    public static function decode(string $bytes): Frame
    {
        [$flags, $streamFlags, $optionCount, $payloadLength] = self::decodeFixedHeader(
            substr($bytes, 0, self::FIXED_HEADER_LENGTH),
        );

        $headerLength = self::FIXED_HEADER_LENGTH + 4 * $optionCount;
        $expectedLength = $headerLength + $payloadLength;
        if (strlen($bytes) !== $expectedLength) {
            throw new FrameException(sprintf(
                'Goridge frame should be %d bytes (header %d + payload %d), got %d',
                $expectedLength,
                $headerLength,
                $payloadLength,
                strlen($bytes),
            ));
        }

        return new Frame(
            substr($bytes, $headerLength),
            self::decodeOptions(substr($bytes, self::FIXED_HEADER_LENGTH, 4 * $optionCount)),
            $flags,
            $streamFlags,
        );
    }
}
