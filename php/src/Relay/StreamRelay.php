<?php

declare(strict_types=1);

namespace PivotPHP\Runtime\RoadRunner\Relay;

use PivotPHP\Runtime\RoadRunner\Exception\RelayException;
use PivotPHP\Runtime\RoadRunner\Goridge\Frame;
use PivotPHP\Runtime\RoadRunner\Goridge\FrameCodec;

/**
 * Frames over a pair of PHP streams: STDIN/STDOUT in pipes mode, a socket for socket relays,
 * or any readable/writable pair in tests (one stream may serve both directions).
 */
final class StreamRelay implements RelayInterface
{
    /**
     * Read buffer size. PHP's default (8 KiB) costs ~1300 read(2) calls per 10 MB body;
     * 64 KiB matches the Linux pipe capacity.
     */
    private const READ_CHUNK_SIZE = 65536;

    /**
     * Above this payload size the header and the payload are written separately: one extra
     * write(2) is far cheaper than copying megabytes into a single string.
     */
    private const SEPARATE_PAYLOAD_THRESHOLD = 1048576;

    /** @var resource */
    private $input;

    /** @var resource */
    private $output;

    /** Memory/temp streams cannot be passed to stream_select(). */
    private readonly bool $selectable;

    /**
     * @param resource $input  read side (RoadRunner → worker)
     * @param resource $output write side (worker → RoadRunner)
     */
    public function __construct($input, $output)
    {
        if (!is_resource($input) || !is_resource($output)) {
            throw new RelayException('StreamRelay needs two open PHP stream resources');
        }

        $this->input = $input;
        $this->output = $output;

        $type = stream_get_meta_data($input)['stream_type'];
        $this->selectable = $type !== 'MEMORY' && $type !== 'TEMP';
        if ($this->selectable) {
            stream_set_chunk_size($input, self::READ_CHUNK_SIZE);
        }
    }

    /** The relay RoadRunner uses in its default `pipes` mode: STDIN in, STDOUT out. */
    public static function fromStdio(): self
    {
        return new self(
            defined('STDIN') ? STDIN : fopen('php://stdin', 'rb'),
            defined('STDOUT') ? STDOUT : fopen('php://stdout', 'wb'),
        );
    }

    public function send(Frame $frame): void
    {
        if (strlen($frame->payload) > self::SEPARATE_PAYLOAD_THRESHOLD) {
            $this->write(FrameCodec::encodeHeader($frame));
            $this->write($frame->payload);

            return;
        }

        $this->write(FrameCodec::encode($frame));
    }

    public function receive(): Frame
    {
        [$flags, $streamFlags, $optionCount, $payloadLength] = FrameCodec::decodeFixedHeader(
            $this->read(FrameCodec::FIXED_HEADER_LENGTH),
        );

        // Options come before the payload on the wire, so read them first.
        $options = $optionCount === 0 ? [] : FrameCodec::decodeOptions($this->read(4 * $optionCount));

        return new Frame($payloadLength === 0 ? '' : $this->read($payloadLength), $options, $flags, $streamFlags);
    }

    public function hasPendingInput(float $timeout = 0.0): bool
    {
        if (!$this->selectable) {
            $stat = fstat($this->input);

            return $stat !== false && ftell($this->input) < $stat['size'];
        }

        $read = [$this->input];
        $write = null;
        $except = null;
        $seconds = (int) $timeout;
        $microseconds = (int) (($timeout - $seconds) * 1_000_000);

        // false means interrupted by a signal: report "nothing yet", the caller polls again.
        return @stream_select($read, $write, $except, $seconds, $microseconds) > 0;
    }

    /**
     * Reads exactly $length bytes: pipes and sockets hand out partial reads (at most 64 KiB
     * per call on a Linux pipe), so loop until everything has arrived.
     */
    private function read(int $length): string
    {
        $data = @fread($this->input, $length);
        if ($data !== false && strlen($data) === $length) {
            return $data;
        }

        $chunks = [];
        $received = 0;
        while (true) {
            if ($data === false) {
                throw new RelayException(sprintf(
                    'Reading from RoadRunner failed after %d of %d bytes: %s',
                    $received,
                    $length,
                    error_get_last()['message'] ?? 'unknown error',
                ));
            }
            if ($data === '') {
                // A socket read timeout also returns '': only a real EOF ends the wait.
                if (feof($this->input)) {
                    throw new RelayException(sprintf(
                        'RoadRunner closed the relay (EOF after %d of %d bytes)',
                        $received,
                        $length,
                    ));
                }
            } else {
                $chunks[] = $data;
                $received += strlen($data);
                if ($received === $length) {
                    return implode('', $chunks);
                }
            }
            $data = @fread($this->input, $length - $received);
        }
    }

    /** Writes every byte: fwrite() may write less than asked on sockets or after a signal. */
    private function write(string $bytes): void
    {
        $written = @fwrite($this->output, $bytes);
        if ($written === strlen($bytes)) {
            return;
        }

        $idleWrites = 0;
        while (true) {
            if ($written === false) {
                throw new RelayException(sprintf(
                    'Writing to RoadRunner failed with %d bytes left: %s',
                    strlen($bytes),
                    error_get_last()['message'] ?? 'unknown error',
                ));
            }
            if ($written > 0) {
                $bytes = substr($bytes, $written);
                $idleWrites = 0;
                if ($bytes === '') {
                    return;
                }
            } elseif (++$idleWrites > 1000 || feof($this->output)) {
                throw new RelayException(sprintf(
                    'Writing to RoadRunner made no progress with %d bytes left (peer gone?)',
                    strlen($bytes),
                ));
            }
            $written = @fwrite($this->output, $bytes);
        }
    }
}
