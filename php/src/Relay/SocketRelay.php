<?php

declare(strict_types=1);

namespace PivotPHP\Runtime\RoadRunner\Relay;

use PivotPHP\Runtime\RoadRunner\Exception\RelayException;
use PivotPHP\Runtime\RoadRunner\Goridge\Frame;
use PivotPHP\Runtime\RoadRunner\Payload;

/**
 * Frames over a TCP or Unix socket (`RR_RELAY=tcp://host:port` or `unix:///path`).
 *
 * Connects on first use, so building the relay never blocks or fails on the network.
 */
final class SocketRelay implements PayloadRelayInterface
{
    /** Idle workers may wait for a request far longer than PHP's default socket timeout. */
    private const IO_TIMEOUT_SECONDS = 86400;

    /** @var resource|null */
    private $socket = null;

    private ?StreamRelay $stream = null;

    public function __construct(
        public readonly string $address,
        private readonly float $connectTimeout = 10.0,
    ) {
        self::assertValidAddress($address);
    }

    public function send(Frame $frame): void
    {
        $this->connection()->send($frame);
    }

    /** {@see PayloadRelayInterface::sendPayload()} */
    public function sendPayload(string $context, string $body, int $streamFlags = 0): void
    {
        $this->connection()->sendPayload($context, $body, $streamFlags);
    }

    public function receive(): Frame
    {
        return $this->connection()->receive();
    }

    /** {@see PayloadRelayInterface::receivePayload()} */
    public function receivePayload(): Payload|Frame
    {
        return $this->connection()->receivePayload();
    }

    public function hasPendingInput(float $timeout = 0.0): bool
    {
        return $this->connection()->hasPendingInput($timeout);
    }

    public function isConnected(): bool
    {
        return $this->stream !== null;
    }

    public function close(): void
    {
        if (is_resource($this->socket)) {
            fclose($this->socket);
        }
        $this->socket = null;
        $this->stream = null;
    }

    private function connection(): StreamRelay
    {
        return $this->stream ??= $this->connect();
    }

    private function connect(): StreamRelay
    {
        $context = str_starts_with($this->address, 'tcp://')
            ? stream_context_create(['socket' => ['tcp_nodelay' => true]])
            : stream_context_create();

        $socket = @stream_socket_client(
            $this->address,
            $errorCode,
            $errorMessage,
            $this->connectTimeout,
            STREAM_CLIENT_CONNECT,
            $context,
        );
        if ($socket === false) {
            throw new RelayException(sprintf(
                'Cannot connect to RoadRunner at %s: %s (code %d)',
                $this->address,
                $errorMessage !== '' ? $errorMessage : (error_get_last()['message'] ?? 'unknown error'),
                $errorCode,
            ));
        }

        stream_set_timeout($socket, self::IO_TIMEOUT_SECONDS);
        $this->socket = $socket;

        return new StreamRelay($socket, $socket);
    }

    private static function assertValidAddress(string $address): void
    {
        if (str_starts_with($address, 'unix://')) {
            if (strlen($address) > strlen('unix://')) {
                return;
            }
            throw new RelayException(sprintf(
                'Relay address "%s" has no socket path (expected unix:///path/to.sock)',
                $address,
            ));
        }

        if (str_starts_with($address, 'tcp://')) {
            $authority = substr($address, strlen('tcp://'));
            $colon = strrpos($authority, ':');
            $host = $colon === false ? '' : substr($authority, 0, $colon);
            $port = $colon === false ? '' : substr($authority, $colon + 1);
            if ($host !== '' && ctype_digit($port) && (int) $port >= 1 && (int) $port <= 65535) {
                return;
            }
            throw new RelayException(sprintf(
                'Relay address "%s" must be tcp://host:port with a port in 1-65535',
                $address,
            ));
        }

        throw new RelayException(sprintf(
            'Relay address "%s" is not a socket address (expected tcp://host:port or unix:///path/to.sock)',
            $address,
        ));
    }
}
