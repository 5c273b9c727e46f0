<?php

declare(strict_types=1);

namespace PivotPHP\Runtime\RoadRunner\Relay;

use PivotPHP\Runtime\RoadRunner\Exception\FrameException;
use PivotPHP\Runtime\RoadRunner\Exception\RelayException;
use PivotPHP\Runtime\RoadRunner\Goridge\Frame;
use PivotPHP\Runtime\RoadRunner\Goridge\FrameCodec;
use PivotPHP\Runtime\RoadRunner\Payload;

/**
 * Frames over a pair of PHP streams: STDIN/STDOUT in pipes mode, a socket for socket relays,
 * or any readable/writable pair in tests (one stream may serve both directions).
 */
final class StreamRelay implements PayloadRelayInterface
{
    /**
     * Read size: one fread() per frame in the common case. PHP's default (8 KiB) costs
     * ~1300 read(2) calls per 10 MB body; 64 KiB matches the Linux pipe capacity.
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

    /** Bytes already read from $input that belong to the next frame(s). */
    private string $buffer = '';

    /** Where the unread part of $buffer starts. */
    private int $offset = 0;

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

        $meta = stream_get_meta_data($input);
        $this->selectable = $meta['stream_type'] !== 'MEMORY' && $meta['stream_type'] !== 'TEMP';
        if ($this->selectable) {
            // This relay buffers itself. With PHP's read buffer too, an fread() that finds a
            // few buffered bytes copies them and then blocks in read(2) for more: a frame
            // left in PHP's buffer (by an earlier fread on the stream) would hang the worker.
            if ($meta['unread_bytes'] > 0) {
                $this->buffer = (string) fread($input, $meta['unread_bytes']);
            }
            @stream_set_read_buffer($input, 0); // user-space wrappers warn, PHP sets it anyway
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

    /** Without building the Frame or copying a large body: the worker's per-response path. */
    public function sendPayload(string $context, string $body, int $streamFlags = 0): void
    {
        $length = strlen($context) + strlen($body);
        if ($length > Frame::MAX_PAYLOAD_LENGTH || ($streamFlags & ~0xFF) !== 0) {
            $this->send(new Frame($context . $body, [strlen($context)], 0, $streamFlags)); // throws

            return;
        }

        $bytes = FrameCodec::encodeHeaderFields(0, $length, $streamFlags, strlen($context)) . $context;

        if ($length > self::SEPARATE_PAYLOAD_THRESHOLD) {
            $this->write($bytes);
            $this->write($body);

            return;
        }

        $bytes .= $body;
        $written = @fwrite($this->output, $bytes);
        if ($written !== strlen($bytes)) {
            $this->writeRest($bytes, $written);
        }
    }

    public function receive(): Frame
    {
        return $this->next(false);
    }

    /** Splits a request frame into its Payload without a Frame in between. */
    public function receivePayload(): Payload|Frame
    {
        return $this->next(true);
    }

    private function next(bool $payloadWanted): Payload|Frame
    {
        // One fread() usually brings the whole frame (and maybe more): parse it from
        // $this->buffer instead of reading the header, the options and the payload apart.
        // $this->offset is where the next frame starts, so frames read ahead are not copied.
        $buffer = $this->buffer;
        $offset = $this->offset;
        if (strlen($buffer) - $offset < FrameCodec::FIXED_HEADER_LENGTH) {
            $buffer = $this->fill(FrameCodec::FIXED_HEADER_LENGTH, 0);
            $offset = 0;
        }

        $header = unpack('Cwords/Cflags/Vlength/Vcrc/Cstream', $buffer, $offset);
        $words = $header['words'] & 0x0F;
        if ($header['crc'] !== crc32(substr($buffer, $offset, 6)) || $words < 3 || $words > 3 + Frame::MAX_OPTIONS) {
            $fixed = substr($buffer, $offset, FrameCodec::FIXED_HEADER_LENGTH);
            $this->buffer = '';
            $this->offset = 0;
            FrameCodec::decodeFixedHeader($fixed); // throws with the details

            throw new FrameException('Invalid goridge header ' . bin2hex($fixed));
        }

        $headerLength = 4 * $words;
        $length = $header['length'];
        $frameLength = $headerLength + $length;
        if (strlen($buffer) - $offset < $frameLength) {
            if ($offset !== 0) {
                $buffer = $this->buffer = substr($buffer, $offset);
                $offset = $this->offset = 0;
            }
            // Options come before the payload on the wire, so wait for them first.
            if (strlen($buffer) < $headerLength) {
                $buffer = $this->fill($headerLength, FrameCodec::FIXED_HEADER_LENGTH);
            }
            if (strlen($buffer) < $frameLength) {
                $buffer = $this->fill($frameLength, $headerLength);
            }
        }

        // The frame is taken: $buffer keeps the bytes alive for the substr() calls below.
        $end = $offset + $frameLength;
        if ($end === strlen($buffer)) {
            $this->buffer = '';
            $this->offset = 0;
        } else {
            $this->offset = $end;
        }
        $start = $offset + $headerLength;

        if ($words === 4) {
            $option = unpack('V', $buffer, $offset + FrameCodec::FIXED_HEADER_LENGTH)[1];
            if (
                $payloadWanted
                && $option <= $length
                && ($header['flags'] & Frame::CONTROL) === 0
                && ($header['stream'] & (Frame::STOP | Frame::PONG)) === 0
            ) {
                return new Payload(
                    $option === 0 ? '' : substr($buffer, $start, $option),
                    $option === $length ? '' : substr($buffer, $start + $option, $length - $option),
                );
            }
            $options = [$option];
        } else {
            $options = $words === 3 ? [] : array_values(unpack('V' . ($words - 3), $buffer, $offset + FrameCodec::FIXED_HEADER_LENGTH));
        }

        return new Frame($length === 0 ? '' : substr($buffer, $start, $length), $options, $header['flags'], $header['stream']);
    }

    public function hasPendingInput(float $timeout = 0.0): bool
    {
        if ($this->buffer !== '') {
            return true; // (part of) a frame was read ahead with the previous one
        }
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
     * Reads until $this->buffer holds at least $length bytes and returns it. Pipes and
     * sockets hand out partial reads (at most 64 KiB per call on a Linux pipe), so loop.
     * Error messages count the bytes of the part being read, which starts at $partStart.
     */
    private function fill(int $length, int $partStart): string
    {
        $buffer = $this->offset === 0 ? $this->buffer : substr($this->buffer, $this->offset);
        $this->offset = 0;
        $missing = $length - strlen($buffer);

        if ($missing > self::READ_CHUNK_SIZE) {
            // A large payload: read exactly what is missing and join the pieces once.
            $chunks = [$buffer];
            while ($missing > 0) {
                $data = @fread($this->input, $missing);
                if ($data === false || $data === '') {
                    $this->buffer = $buffer = implode('', $chunks);
                    $chunks = [$buffer];
                    $this->failedRead($data, strlen($buffer) - $partStart, $length - $partStart);
                    continue;
                }
                $chunks[] = $data;
                $missing -= strlen($data);
            }

            return $this->buffer = implode('', $chunks);
        }

        while ($missing > 0) {
            $data = @fread($this->input, self::READ_CHUNK_SIZE);
            if ($data === false || $data === '') {
                $this->buffer = $buffer;
                $this->failedRead($data, strlen($buffer) - $partStart, $length - $partStart);
                continue;
            }
            $buffer .= $data;
            $missing -= strlen($data);
        }

        return $this->buffer = $buffer;
    }

    /**
     * A read that brought nothing: throws on errors and EOF, returns for a socket read
     * timeout (also an empty string) so that the caller waits on.
     */
    private function failedRead(string|false $data, int $received, int $length): void
    {
        if ($data === false) {
            throw new RelayException(sprintf(
                'Reading from RoadRunner failed after %d of %d bytes: %s',
                $received,
                $length,
                error_get_last()['message'] ?? 'unknown error',
            ));
        }
        if (feof($this->input)) {
            throw new RelayException(sprintf(
                'RoadRunner closed the relay (EOF after %d of %d bytes)',
                $received,
                $length,
            ));
        }
    }

    /** Writes every byte: fwrite() may write less than asked on sockets or after a signal. */
    private function write(string $bytes): void
    {
        $written = @fwrite($this->output, $bytes);
        if ($written !== strlen($bytes)) {
            $this->writeRest($bytes, $written);
        }
    }

    /** Goes on after a first fwrite() that did not write everything ($written bytes or false). */
    private function writeRest(string $bytes, int|false $written): void
    {
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
