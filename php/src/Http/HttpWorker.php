<?php

declare(strict_types=1);

namespace PivotPHP\Runtime\RoadRunner\Http;

use PivotPHP\Runtime\RoadRunner\Exception\InvalidRequestException;
use PivotPHP\Runtime\RoadRunner\Exception\RelayException;
use PivotPHP\Runtime\RoadRunner\Worker;

/**
 * HTTP on top of {@see Worker}, without PSR-7: requests as {@see Request}, responses as
 * status + body + headers. The lean path used by the benchmark.
 */
final class HttpWorker
{
    public function __construct(private readonly Worker $worker)
    {
    }

    /** Without an argument: the worker of this process ({@see Worker::create()}). */
    public static function create(?Worker $worker = null): self
    {
        return new self($worker ?? Worker::create());
    }

    public function worker(): Worker
    {
        return $this->worker;
    }

    /**
     * Blocks until the next request. Returns null when RoadRunner stops the worker: leave
     * the loop and exit.
     */
    public function waitRequest(): ?Request
    {
        while (($payload = $this->worker->waitPayload()) !== null) {
            try {
                if ($payload->context === '') {
                    throw new InvalidRequestException('The request has no context');
                }

                return Request::fromContext($payload->context, $payload->body);
            } catch (InvalidRequestException $e) {
                // Fail only this request (RoadRunner answers 500) and keep serving.
                $this->worker->error($e->getMessage());
            }
        }

        return null;
    }

    /**
     * @param array<string, string|list<string>> $headers name => value or list of values
     */
    public function respond(int $status, string $body = '', array $headers = []): void
    {
        $this->worker->respondWith(ResponseContext::encode($status, $headers), $body);
    }

    /**
     * Streams the body, one frame per chunk, as the chunks are produced. Between chunks it
     * checks whether RoadRunner cancelled the stream (client gone); if so it stops pulling
     * chunks, sends the final frame and returns false.
     *
     * If $chunks throws after the first frame went out, the stream is ended with an error
     * frame (RoadRunner then replaces this worker) and the exception is rethrown.
     *
     * @param iterable<string>                   $chunks
     * @param array<string, string|list<string>> $headers
     *
     * @return bool true when every chunk was sent, false when the stream was cancelled
     */
    public function respondStream(int $status, iterable $chunks, array $headers = []): bool
    {
        $context = ResponseContext::encode($status, $headers);
        $started = false;

        try {
            foreach ($chunks as $chunk) {
                // The context goes with the first frame only: each context rewrites headers.
                $this->worker->respondWith($started ? '' : $context, (string) $chunk, true);
                $started = true;

                if ($this->worker->wasStreamStopped()) {
                    $this->worker->respondWith('');

                    return false;
                }
            }
        } catch (\Throwable $e) {
            // A broken relay cannot carry an error frame either.
            if ($started && $this->worker->hasPendingRequest() && !$e instanceof RelayException) {
                $this->worker->error('Response stream failed: ' . $e->getMessage());
            }
            throw $e;
        }

        $this->worker->respondWith($started ? '' : $context);

        return true;
    }

    /** Fails the current request: RoadRunner answers 500 and keeps the worker. */
    public function error(string $message): void
    {
        $this->worker->error($message);
    }
}
