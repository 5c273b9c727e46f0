<?php

declare(strict_types=1);

namespace PivotPHP\Runtime\RoadRunner\Lifecycle;

/**
 * Watches one worker process: counts its requests, its memory and its age, collects garbage
 * when that pays, and decides when the worker should be replaced.
 *
 * The decision is taken after a request; the worker acts on it when the next request arrives
 * ({@see Server}): it declines that request with Worker::stop(), RoadRunner runs it on another
 * worker and stops this one. No request is dropped, and the worker never exits while idle
 * (RoadRunner could hand it a request at that very moment).
 */
final class WorkerManager
{
    /** null: microtime(true), called directly on the per-request path */
    private readonly ?\Closure $clock;
    /** null: memory_get_usage(), called directly on the per-request path */
    private readonly ?\Closure $memory;
    private readonly \Closure $collector;
    private readonly float $startedAt;

    private int $requests = 0;
    private int $gcRuns = 0;
    private int $gcCollected = 0;
    private int $memoryAfterGc;
    private int $lastMemory;
    private ?string $recycleReason = null;

    /**
     * @param (\Closure(): float)|null $clock     seconds, default microtime(true)
     * @param (\Closure(): int)|null   $memory    bytes in use, default memory_get_usage()
     * @param (\Closure(): int)|null   $collector runs a collection, returns the cycles freed;
     *                                            default gc_collect_cycles()
     */
    public function __construct(
        private readonly Config $config = new Config(),
        ?\Closure $clock = null,
        ?\Closure $memory = null,
        ?\Closure $collector = null,
    ) {
        $this->clock = $clock;
        $this->memory = $memory;
        $this->collector = $collector ?? static fn (): int => gc_collect_cycles();
        $this->startedAt = $this->now();
        $this->memoryAfterGc = $this->lastMemory = $this->memoryUsage();
    }

    public function config(): Config
    {
        return $this->config;
    }

    /**
     * Call after every request, once its response was sent and the state reset: counts it,
     * collects garbage when memory grew by gc_threshold, and checks the limits.
     */
    public function requestFinished(): void
    {
        ++$this->requests;
        $memory = $this->memoryUsage();
        $collected = false;

        if ($this->config->gcThreshold > 0 && $memory - $this->memoryAfterGc >= $this->config->gcThreshold) {
            $memory = $this->collect();
            $collected = true;
        }

        $maxRequests = $this->config->maxRequests;
        if ($this->recycleReason === null && $maxRequests > 0 && $this->requests >= $maxRequests) {
            $this->recycle(sprintf('served %d requests (max_requests %d)', $this->requests, $maxRequests));
        }

        if ($this->recycleReason === null && $this->config->memoryLimit > 0 && $memory > $this->config->memoryLimit) {
            // Garbage is not a leak: only a worker still above the limit after a collection goes.
            if (!$collected) {
                $memory = $this->collect();
            }
            if ($memory > $this->config->memoryLimit) {
                $this->recycle(sprintf(
                    'uses %s after garbage collection (memory_limit %s)',
                    self::megabytes($memory),
                    self::megabytes($this->config->memoryLimit),
                ));
            }
        }

        $this->lastMemory = $memory;
        $this->checkAge();
    }

    /** Whether the worker should decline the next request and be replaced. */
    public function shouldRecycle(): bool
    {
        if ($this->recycleReason === null) {
            $this->checkAge();
        }

        return $this->recycleReason !== null;
    }

    /** Why the worker is being replaced, or null. */
    public function recycleReason(): ?string
    {
        return $this->recycleReason;
    }

    /**
     * Asks for the worker to be replaced before its next request (e.g. after a reset step failed
     * and its state can no longer be trusted). The first reason is kept.
     */
    public function recycle(string $reason): void
    {
        $this->recycleReason ??= $reason;
    }

    public function requests(): int
    {
        return $this->requests;
    }

    /**
     * The worker's figures, for metrics and logs.
     *
     * @return array{pid: int, requests: int, uptime_seconds: float, memory_bytes: int,
     *               memory_peak_bytes: int, memory_after_last_request_bytes: int, gc_runs: int,
     *               gc_collected: int, recycling: bool, recycle_reason: string|null,
     *               max_requests: int, memory_limit_bytes: int, ttl_seconds: int}
     */
    public function metrics(): array
    {
        return [
            'pid' => (int) getmypid(),
            'requests' => $this->requests,
            'uptime_seconds' => round($this->now() - $this->startedAt, 3),
            'memory_bytes' => $this->memoryUsage(),
            'memory_peak_bytes' => memory_get_peak_usage(),
            'memory_after_last_request_bytes' => $this->lastMemory,
            'gc_runs' => $this->gcRuns,
            'gc_collected' => $this->gcCollected,
            'recycling' => $this->recycleReason !== null,
            'recycle_reason' => $this->recycleReason,
            'max_requests' => $this->config->maxRequests,
            'memory_limit_bytes' => $this->config->memoryLimit,
            'ttl_seconds' => $this->config->ttl,
        ];
    }

    private function collect(): int
    {
        ++$this->gcRuns;
        $this->gcCollected += ($this->collector)();

        return $this->memoryAfterGc = $this->memoryUsage();
    }

    private function checkAge(): void
    {
        if ($this->recycleReason !== null || $this->config->ttl === 0) {
            return;
        }
        $age = $this->now() - $this->startedAt;
        if ($age >= $this->config->ttl) {
            $this->recycle(sprintf('is %d s old (ttl %d s)', (int) $age, $this->config->ttl));
        }
    }

    private function now(): float
    {
        return $this->clock === null ? microtime(true) : ($this->clock)();
    }

    private function memoryUsage(): int
    {
        return $this->memory === null ? memory_get_usage() : ($this->memory)();
    }

    private static function megabytes(int $bytes): string
    {
        return sprintf('%.1f MB', $bytes / 1048576);
    }
}
