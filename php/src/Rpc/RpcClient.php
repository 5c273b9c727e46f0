<?php

declare(strict_types=1);

namespace PivotPHP\Runtime\RoadRunner\Rpc;

use PivotPHP\Runtime\RoadRunner\Exception\FrameException;
use PivotPHP\Runtime\RoadRunner\Goridge\FrameCodec;

/**
 * goridge RPC client over TCP or a Unix socket with the JSON codec, one call at a time.
 *
 * - Connects on the first call and keeps the connection; a connection found closed before a
 *   call (RoadRunner restarted) is replaced transparently.
 * - A call that breaks, times out or gets a mismatched answer closes the connection and
 *   throws; the next call reconnects. Calls are never retried: whether a broken call ran on
 *   the server cannot be known, and jobs.Push is not idempotent.
 * - Every call has a deadline of $timeout seconds (connect included).
 */
final class RpcClient implements RpcInterface
{
    public const ENVIRONMENT_VARIABLE = 'RR_RPC';
    public const DEFAULT_ADDRESS = 'tcp://127.0.0.1:6001';

    /** Above this size the frame header and payload are written apart (no big string copy). */
    private const SEPARATE_PAYLOAD_THRESHOLD = 65536;

    private ?SocketConnection $connection = null;
    private int $sequence = 0;

    public function __construct(
        public readonly string $address = self::DEFAULT_ADDRESS,
        public readonly float $timeout = 10.0,
    ) {
        if ($timeout <= 0) {
            throw new \InvalidArgumentException(sprintf('RPC timeout must be positive, got %s', $timeout));
        }
    }

    /**
     * The RPC address RoadRunner gives its workers in `RR_RPC` (set when .rr.yaml has
     * `rpc.listen`), or tcp://127.0.0.1:6001 (RoadRunner's default) outside RoadRunner.
     */
    public static function fromEnvironment(float $timeout = 10.0): self
    {
        $address = getenv(self::ENVIRONMENT_VARIABLE);

        return new self($address === false || trim($address) === '' ? self::DEFAULT_ADDRESS : trim($address), $timeout);
    }

    public function call(string $method, mixed $argument = null): mixed
    {
        $body = RpcCodec::encodeJson($argument);
        $sequence = $this->sequence = $this->sequence >= RpcCodec::MAX_SEQUENCE ? 1 : $this->sequence + 1;
        $request = RpcCodec::encodeRequest($sequence, $method, $body);
        $deadline = microtime(true) + $this->timeout;

        try {
            $connection = $this->connection($deadline);
            $what = "the $method request";
            if (strlen($request->payload) > self::SEPARATE_PAYLOAD_THRESHOLD) {
                $connection->write(FrameCodec::encodeHeader($request), $deadline, $what);
                $connection->write($request->payload, $deadline, $what);
            } else {
                $connection->write(FrameCodec::encode($request), $deadline, $what);
            }
            $response = $connection->readFrame($deadline, "the answer to $method");

            return RpcCodec::decodeJson(RpcCodec::decodeResponse($response, $sequence, $method), $method);
        } catch (ServiceException $e) {
            throw $e; // the conversation is intact: keep the connection
        } catch (RpcException $e) {
            $this->close();
            throw $e;
        } catch (FrameException $e) {
            $this->close();
            throw new UnexpectedResponseException(sprintf('RPC %s: %s', $method, $e->getMessage()), 0, $e);
        }
    }

    public function isConnected(): bool
    {
        return $this->connection !== null && $this->connection->isOpen();
    }

    public function close(): void
    {
        $this->connection?->close();
        $this->connection = null;
    }

    private function connection(float $deadline): SocketConnection
    {
        if ($this->connection !== null && $this->connection->isUsable()) {
            return $this->connection;
        }
        $this->close();

        return $this->connection = SocketConnection::open($this->address, max(0.001, $deadline - microtime(true)));
    }
}
