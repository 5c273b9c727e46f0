<?php

declare(strict_types=1);

namespace PivotPHP\Runtime\RoadRunner\Goridge;

use PivotPHP\Runtime\RoadRunner\Exception\FrameException;

/**
 * One goridge v3 frame: flags (byte 1), stream flags (byte 10), option words and payload.
 *
 * How the payload is split is up to the user of the frame: worker frames carry one option,
 * the context length, and `payload = context . body`.
 */
final class Frame
{
    // Flags, byte 1.
    public const CONTROL = 0x01;
    public const CODEC_RAW = 0x04;
    public const CODEC_JSON = 0x08;
    public const CODEC_MSGPACK = 0x10;
    public const CODEC_GOB = 0x20;
    public const ERROR = 0x40;
    public const CODEC_PROTO = 0x80;

    // Stream flags, byte 10 (not covered by the CRC).
    public const STREAM = 0x01;
    public const STOP = 0x02;
    public const PING = 0x04;
    public const PONG = 0x08;

    /** Go's ReadOptions panics beyond 10 options (HL 13), so we never build such a frame. */
    public const MAX_OPTIONS = 10;

    public const MAX_PAYLOAD_LENGTH = 0xFFFFFFFF;

    /**
     * @param list<int> $options LE32 words, at most {@see MAX_OPTIONS}
     */
    public function __construct(
        public readonly string $payload = '',
        public readonly array $options = [],
        public readonly int $flags = 0,
        public readonly int $streamFlags = 0,
    ) {
        if (count($options) > self::MAX_OPTIONS) {
            throw new FrameException(sprintf(
                'A goridge frame carries at most %d options, %d given',
                self::MAX_OPTIONS,
                count($options),
            ));
        }
        foreach ($options as $option) {
            if (!is_int($option) || $option < 0 || $option > 0xFFFFFFFF) {
                throw new FrameException('Goridge frame options must be unsigned 32-bit integers');
            }
        }
        if (($flags & ~0xFF) !== 0 || ($streamFlags & ~0xFF) !== 0) {
            throw new FrameException(sprintf(
                'Goridge frame flags must fit in one byte, got flags 0x%X and stream flags 0x%X',
                $flags,
                $streamFlags,
            ));
        }
        if (strlen($payload) > self::MAX_PAYLOAD_LENGTH) {
            throw new FrameException('A goridge frame payload is limited to 4 GiB - 1 bytes');
        }
    }

    public function hasFlag(int $flag): bool
    {
        return ($this->flags & $flag) === $flag;
    }

    public function hasStreamFlag(int $flag): bool
    {
        return ($this->streamFlags & $flag) === $flag;
    }
}
