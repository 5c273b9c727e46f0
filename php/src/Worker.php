<?php

declare(strict_types=1);

namespace PivotPHP\Runtime\RoadRunner;

use PivotPHP\Runtime\RoadRunner\Exception\ProtocolException;
use PivotPHP\Runtime\RoadRunner\Goridge\Frame;
use PivotPHP\Runtime\RoadRunner\Relay\PayloadRelayInterface;
use PivotPHP\Runtime\RoadRunner\Relay\RelayFactory;
use PivotPHP\Runtime\RoadRunner\Relay\RelayInterface;

/**
 * The worker side of RoadRunner's protocol (wire-protocol.md §2): receives payloads,
 * answers them, and takes care of control frames (pid handshake, stop) on the way.
 */
final class Worker
{
    /** Exactly what RoadRunner matches to mean "restart me and re-run this request" (§2.6). */
    private const STOP_CONTEXT = '{"stop":true}';

    /** Frames read while polling for the STOP bit that belong to a later waitPayload(). */
    private array $backlog = [];

    private bool $requestPending = false;
    private bool $streaming = false;
    private bool $streamStopped = false;

    /** The relay again when it can receive/send payloads without Frame objects (our own relays). */
    private readonly ?PayloadRelayInterface $payloadRelay;

    public function __construct(private readonly RelayInterface $relay)
    {
        $this->payloadRelay = $relay instanceof PayloadRelayInterface ? $relay : null;
    }

    /**
     * The worker for the current process: the relay from `RR_RELAY` (pipes by default) and
     * the output guard that keeps STDOUT clean for frames.
     */
    public static function create(): self
    {
        OutputGuard::install();

        return new self(RelayFactory::fromEnvironment());
    }

    public function relay(): RelayInterface
    {
        return $this->relay;
    }

    /**
     * Blocks until RoadRunner sends work. Returns null when RoadRunner asks the worker to
     * stop: the caller should leave its loop and exit.
     */
    public function waitPayload(): ?Payload
    {
        if ($this->requestPending) {
            // RoadRunner waits for that answer and will send nothing: fail instead of hanging.
            throw new ProtocolException('waitPayload() called before the previous request was answered');
        }

        while (true) {
            if ($this->backlog !== []) {
                $frame = array_shift($this->backlog);
            } elseif ($this->payloadRelay !== null) {
                // Our relays hand a plain request frame over as its Payload directly.
                $frame = $this->payloadRelay->receivePayload();
                if ($frame instanceof Payload) {
                    $this->requestPending = true;

                    return $frame;
                }
            } else {
                $frame = $this->relay->receive();
            }

            if (($frame->flags & Frame::CONTROL) !== 0) {
                if ($this->handleControl($frame)) {
                    return null;
                }
                continue;
            }
            if (($frame->streamFlags & (Frame::STOP | Frame::PONG)) !== 0) {
                continue; // a late STOP or PONG from a finished stream
            }

            $contextLength = $frame->options[0] ?? 0;
            $payloadLength = strlen($frame->payload);
            if ($contextLength > $payloadLength) {
                throw new ProtocolException(sprintf(
                    'Request frame announces a %d-byte context but carries only %d bytes',
                    $contextLength,
                    $payloadLength,
                ));
            }

            $this->requestPending = true;

            if ($contextLength === 0) {
                return new Payload('', $frame->payload);
            }

            return new Payload(
                substr($frame->payload, 0, $contextLength),
                $contextLength === $payloadLength ? '' : substr($frame->payload, $contextLength),
            );
        }
    }

    /**
     * Answers the current request. With $more the frame carries the STREAM bit and further
     * frames must follow; the last one is sent with $more = false.
     */
    public function respond(Payload $payload, bool $more = false): void
    {
        $this->respondWith($payload->context, $payload->body, $more);
    }

    /**
     * {@see respond()} with the context and body as strings, without a Payload object: the
     * per-response path of the HTTP worker.
     */
    public function respondWith(string $context, string $body = '', bool $more = false): void
    {
        if (!$this->requestPending) {
            $this->assertRequestPending('respond'); // throws
        }

        if ($more && !$this->streaming) {
            $this->streaming = true;
            $this->streamStopped = false;
        }

        if ($this->payloadRelay !== null) {
            $this->payloadRelay->sendPayload($context, $body, $more ? Frame::STREAM : 0);
        } else {
            $this->relay->send(new Frame($context . $body, [strlen($context)], 0, $more ? Frame::STREAM : 0));
        }

        if (!$more) {
            $this->finishRequest();
        }
    }

    /**
     * Fails the current request. RoadRunner keeps the worker (a "soft" error), except inside
     * a stream, where it replaces it.
     */
    public function error(string $message): void
    {
        $this->assertRequestPending('send an error');
        $this->relay->send(new Frame($message, [], Frame::ERROR));
        $this->finishRequest();
    }

    /**
     * Declines the current request: RoadRunner stops this worker and re-runs the request on
     * a fresh one. Answering every request like this loops forever. An idle worker that
     * wants to quit should simply exit.
     */
    public function stop(): void
    {
        $this->assertRequestPending('ask for a restart');
        $this->relay->send(new Frame(self::STOP_CONTEXT, [strlen(self::STOP_CONTEXT)]));
        $this->finishRequest();
    }

    /** Whether a request was received and still waits for its (final) response. */
    public function hasPendingRequest(): bool
    {
        return $this->requestPending;
    }

    /**
     * Whether RoadRunner cancelled the current stream (STOP bit, e.g. the HTTP client went
     * away). Never blocks. Once true, send one final frame with $more = false.
     */
    public function wasStreamStopped(): bool
    {
        if ($this->streamStopped || !$this->streaming) {
            return $this->streamStopped;
        }

        while ($this->relay->hasPendingInput(0.0)) {
            $frame = $this->relay->receive();

            if (($frame->streamFlags & Frame::STOP) !== 0) {
                return $this->streamStopped = true;
            }
            if (($frame->streamFlags & Frame::PONG) !== 0) {
                continue;
            }
            if (($frame->flags & Frame::CONTROL) !== 0 && $this->isPidRequest($frame)) {
                $this->sendPid();
                continue;
            }

            $this->backlog[] = $frame;

            break;
        }

        return false;
    }

    private function finishRequest(): void
    {
        $this->requestPending = false;
        $this->streaming = false;
    }

    private function assertRequestPending(string $action): void
    {
        if (!$this->requestPending) {
            throw new ProtocolException(sprintf(
                'Cannot %s: no request is waiting for a response'
                . ' (a stray frame would be read as the answer to the next request)',
                $action,
            ));
        }
    }

    /** @return bool true when RoadRunner asked the worker to stop */
    private function handleControl(Frame $frame): bool
    {
        $command = json_decode($frame->payload, true);
        if (!is_array($command)) {
            throw new ProtocolException(sprintf('Invalid control frame from RoadRunner: %s', $frame->payload));
        }

        if (!empty($command['pid'])) {
            $this->sendPid();

            return false;
        }

        // Unknown commands are ignored, so newer RoadRunner versions do not kill old workers.
        return !empty($command['stop']);
    }

    private function isPidRequest(Frame $frame): bool
    {
        $command = json_decode($frame->payload, true);

        return is_array($command) && !empty($command['pid']);
    }

    private function sendPid(): void
    {
        // pipelining: frames are read strictly in order, and a request read while a stream polls
        // for STOP is kept for the next waitPayload(), so pivot may queue a request behind another
        $this->relay->send(new Frame('{"pid":' . getmypid() . ',"pipelining":true}', [], Frame::CONTROL));
    }
}
