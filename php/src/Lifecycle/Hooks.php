<?php

declare(strict_types=1);

namespace PivotPHP\Runtime\RoadRunner\Lifecycle;

use PivotPHP\Runtime\RoadRunner\Http\Request;

/**
 * The application's listeners on the worker's lifecycle — a small, explicit catalogue in the
 * spirit of Laravel Octane's events:
 *
 * - onWorkerStart `fn(): void` — once, before the first request;
 * - onRequestStart `fn(Request $request): void` — before the application handles a request
 *   (the superglobals are already filled);
 * - onRequestEnd `fn(Request $request, Response $response): ?Response` — after the application
 *   answered, before the response is sent; may return a replacement Response;
 * - onReset `fn(): void` — after every request, once the response was sent: reset the
 *   application's own singletons and caches here;
 * - onError `fn(\Throwable $error, ?Request $request): void` — the application threw (the client
 *   gets a 500);
 * - onWorkerStop `fn(): void` — once, when RoadRunner stops the worker.
 *
 * A throwing onRequestStart/onRequestEnd listener fails that request (500). A throwing onReset
 * listener is logged and the worker is replaced before its next request, since its state can
 * no longer be trusted. onError and onWorkerStop failures are logged.
 */
final class Hooks
{
    /** @var array<string, list<callable>> */
    private array $listeners = [
        'workerStart' => [],
        'requestStart' => [],
        'requestEnd' => [],
        'reset' => [],
        'error' => [],
        'workerStop' => [],
    ];

    public function onWorkerStart(callable $listener): self
    {
        $this->listeners['workerStart'][] = $listener;

        return $this;
    }

    public function onRequestStart(callable $listener): self
    {
        $this->listeners['requestStart'][] = $listener;

        return $this;
    }

    public function onRequestEnd(callable $listener): self
    {
        $this->listeners['requestEnd'][] = $listener;

        return $this;
    }

    public function onReset(callable $listener): self
    {
        $this->listeners['reset'][] = $listener;

        return $this;
    }

    public function onError(callable $listener): self
    {
        $this->listeners['error'][] = $listener;

        return $this;
    }

    public function onWorkerStop(callable $listener): self
    {
        $this->listeners['workerStop'][] = $listener;

        return $this;
    }

    /** @internal the runtime's side: exceptions propagate (the worker does not start) */
    public function workerStarted(): void
    {
        foreach ($this->listeners['workerStart'] as $listener) {
            $listener();
        }
    }

    /** @internal exceptions propagate (the request fails) */
    public function requestStarted(Request $request): void
    {
        foreach ($this->listeners['requestStart'] as $listener) {
            $listener($request);
        }
    }

    /** @internal exceptions propagate (the request fails) */
    public function requestEnded(Request $request, Response $response): Response
    {
        foreach ($this->listeners['requestEnd'] as $listener) {
            $replacement = $listener($request, $response);
            if ($replacement instanceof Response) {
                $response = $replacement;
            }
        }

        return $response;
    }

    /**
     * @internal runs every reset listener even when one fails
     *
     * @return list<\Throwable> the failures
     */
    public function reset(): array
    {
        return $this->runAll('reset', []);
    }

    /** @internal @return list<\Throwable> */
    public function errorOccurred(\Throwable $error, ?Request $request): array
    {
        return $this->runAll('error', [$error, $request]);
    }

    /** @internal @return list<\Throwable> */
    public function workerStopped(): array
    {
        return $this->runAll('workerStop', []);
    }

    /** @return list<\Throwable> */
    private function runAll(string $event, array $arguments): array
    {
        $failures = [];
        foreach ($this->listeners[$event] as $listener) {
            try {
                $listener(...$arguments);
            } catch (\Throwable $e) {
                $failures[] = $e;
            }
        }

        return $failures;
    }
}
