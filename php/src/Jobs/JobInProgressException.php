<?php

declare(strict_types=1);

namespace PivotPHP\Runtime\RoadRunner\Jobs;

/**
 * Thrown by {@see Idempotency} when another worker is running the same job right now (a
 * redelivery that overtook the original, e.g. after a broker connection dropped while it
 * ran). The {@see Consumer} requeues the task after $retryAfter seconds without counting an
 * attempt: by then the other run has completed (the repeat is dropped) or its claim has
 * lapsed (the repeat runs).
 */
final class JobInProgressException extends \RuntimeException
{
    public function __construct(public readonly Task $task, public readonly string $holder, public readonly int $retryAfter)
    {
        parent::__construct(sprintf(
            'Job %s (id %s) is being handled by %s; retry in %d s',
            $task->name,
            $task->id,
            $holder,
            $retryAfter,
        ));
    }
}
