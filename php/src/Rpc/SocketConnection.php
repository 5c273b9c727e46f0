<?php

declare(strict_types=1);

namespace PivotPHP\Runtime\RoadRunner\Rpc;

use PivotPHP\Runtime\RoadRunner\Exception\FrameException;
use PivotPHP\Runtime\RoadRunner\Goridge\Frame;
use PivotPHP\Runtime\RoadRunner\Goridge\FrameCodec;

/**
 * One non-blocking TCP or Unix socket to RoadRunner's rpc plugin, where every read and
 * write honours an absolute deadline (microtime(true) seconds).
 */
final class SocketConnection
{
    private const CHUNK_SIZE = 1048576;

    /** @var resource|null */
    private $socket;

    /** @param resource $socket */
    private function __construct($socket, public readonly string $address)
    {
        $this->socket = $socket;
    }

    /**
     * @param string $address `tcp://host:port` or `unix:///path/to.sock`
     *
     * @throws ConnectionException
     */
    public static function open(string $address, float $timeout): self
    {
        self::assertAddress($address);
        $context = str_starts_with($address, 'tcp://')
            ? stream_context_create(['socket' => ['tcp_nodelay' => true]])
            : stream_context_create();

        $socket = @stream_socket_client($address, $code, $message, $timeout, STREAM_CLIENT_CONNECT, $context);
        if ($socket === false) {
            throw new ConnectionException(sprintf(
                'Cannot connect to the RoadRunner RPC server at %s: %s'
                . ' (is rpc.listen set in .rr.yaml and RoadRunner running?)',
                $address,
                $message !== '' ? $message : (error_get_last()['message'] ?? "error $code"),
            ));
        }
        stream_set_blocking($socket, false);
        stream_set_read_buffer($socket, 0);
        stream_set_chunk_size($socket, self::CHUNK_SIZE);

        return new self($socket, $address);
    }

    public function __destruct()
    {
        $this->close();
    }

    public function close(): void
    {
        if (is_resource($this->socket)) {
            fclose($this->socket);
        }
        $this->socket = null;
    }

    public function isOpen(): bool
    {
        return is_resource($this->socket);
    }

    /**
     * Whether the connection can carry a new call. Between calls the server never writes,
     * so anything readable now is either EOF (RoadRunner restarted or closed it) or bytes
     * that belong to no call: either way the connection is done for.
     */
    public function isUsable(): bool
    {
        if (!is_resource($this->socket)) {
            return false;
        }
        $read = [$this->socket];
        $write = null;
        $except = null;

        return @stream_select($read, $write, $except, 0, 0) === 0;
    }

    /** @throws ConnectionException|TimeoutException */
    public function write(string $bytes, float $deadline, string $what): void
    {
        $total = strlen($bytes);
        $offset = 0;
        while ($offset < $total) {
            $written = @fwrite($this->socket(), $offset === 0 ? $bytes : substr($bytes, $offset));
            if ($written === false) {
                throw $this->broken(sprintf('writing %s failed after %d of %d bytes', $what, $offset, $total));
            }
            $offset += $written;
            if ($offset < $total) {
                $this->wait(false, $deadline, sprintf('writing %s (%d of %d bytes sent)', $what, $offset, $total));
            }
        }
    }

    /** @throws ConnectionException|TimeoutException|FrameException */
    public function readFrame(float $deadline, string $what): Frame
    {
        [$flags, $streamFlags, $optionCount, $payloadLength] = FrameCodec::decodeFixedHeader(
            $this->read(FrameCodec::FIXED_HEADER_LENGTH, $deadline, $what),
        );
        $options = FrameCodec::decodeOptions($optionCount === 0 ? '' : $this->read(4 * $optionCount, $deadline, $what));
        $payload = $payloadLength === 0 ? '' : $this->read($payloadLength, $deadline, $what);

        return new Frame($payload, $options, $flags, $streamFlags);
    }

    private function read(int $length, float $deadline, string $what): string
    {
        $chunks = [];
        $received = 0;
        while ($received < $length) {
            $data = @fread($this->socket(), min(self::CHUNK_SIZE, $length - $received));
            if ($data === false) {
                throw $this->broken(sprintf('reading %s failed', $what));
            }
            if ($data === '') {
                if (feof($this->socket())) {
                    throw $this->broken(sprintf('RoadRunner closed the connection while %s was awaited', $what));
                }
                $this->wait(
                    true,
                    $deadline,
                    sprintf('waiting for %s (%d of %d bytes received)', $what, $received, $length),
                );
                continue;
            }
            $chunks[] = $data;
            $received += strlen($data);
        }

        return count($chunks) === 1 ? $chunks[0] : implode('', $chunks);
    }

    private function wait(bool $forRead, float $deadline, string $what): void
    {
        while (true) {
            $remaining = $deadline - microtime(true);
            if ($remaining <= 0) {
                $this->close();
                throw new TimeoutException(sprintf('RPC to %s timed out %s', $this->address, $what));
            }
            $read = $forRead ? [$this->socket()] : null;
            $write = $forRead ? null : [$this->socket()];
            $except = null;
            $seconds = (int) $remaining;
            $ready = @stream_select($read, $write, $except, $seconds, (int) (($remaining - $seconds) * 1e6));
            if ($ready === false) {
                continue; // interrupted by a signal: the deadline still holds
            }
            if ($ready > 0) {
                return;
            }
        }
    }

    /** @return resource */
    private function socket()
    {
        if (!is_resource($this->socket)) {
            throw new ConnectionException(sprintf('The RPC connection to %s is closed', $this->address));
        }

        return $this->socket;
    }

    private function broken(string $reason): ConnectionException
    {
        $this->close();

        return new ConnectionException(sprintf('RPC connection to %s broke: %s', $this->address, $reason));
    }

    private static function assertAddress(string $address): void
    {
        if (preg_match('#^tcp://[^/]+:(\d{1,5})$#D', $address, $m) === 1 && (int) $m[1] >= 1 && (int) $m[1] <= 65535) {
            return;
        }
        if (preg_match('#^unix://.+$#D', $address) === 1) {
            return;
        }

        throw new \InvalidArgumentException(sprintf(
            'RPC address "%s" must be tcp://host:port or unix:///path/to.sock',
            $address,
        ));
    }
}
