<?php

declare(strict_types=1);

namespace PivotPHP\Runtime\RoadRunner\Jobs;

/**
 * How a failed task is retried: up to $maxAttempts deliveries in all, the n-th retry after
 * $delaySeconds × $multiplier^(n-1) seconds, capped at $maxDelaySeconds.
 */
final class RetryPolicy
{
    public function __construct(
        public readonly int $maxAttempts = 3,
        public readonly int $delaySeconds = 5,
        public readonly float $multiplier = 1.0,
        public readonly int $maxDelaySeconds = 3600,
    ) {
        if ($maxAttempts < 1) {
            throw new \InvalidArgumentException('RetryPolicy: maxAttempts must be at least 1 (1 = never retry)');
        }
        if ($delaySeconds < 0 || $maxDelaySeconds < 0 || $multiplier < 1.0) {
            throw new \InvalidArgumentException('RetryPolicy: delays must be >= 0 and the multiplier >= 1');
        }
    }

    public static function never(): self
    {
        return new self(1, 0);
    }

    public function shouldRetry(int $attempt): bool
    {
        return $attempt < $this->maxAttempts;
    }

    /** Delay before the delivery that follows failed attempt $attempt (1-based). */
    public function delayAfter(int $attempt): int
    {
        $delay = $this->delaySeconds * $this->multiplier ** max(0, $attempt - 1);

        return (int) min($this->maxDelaySeconds, round($delay));
    }
}
