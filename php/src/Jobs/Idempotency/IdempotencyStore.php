<?php

declare(strict_types=1);

namespace PivotPHP\Runtime\RoadRunner\Jobs\Idempotency;

/** Where {@see \PivotPHP\Runtime\RoadRunner\Jobs\Idempotency} keeps job ids. */
interface IdempotencyStore
{
    /**
     * Claims job $id for $owner for $lease seconds, unless it is done (within its TTL) or held
     * by another owner that is alive and within its lease. A claim whose owner is dead (same
     * host, pid gone) or whose lease ran out is taken over.
     *
     * @param int $ttl the TTL done records get (a store may keep claims at most this long)
     */
    public function claim(string $id, Owner $owner, int $lease, int $ttl): Claim;

    /** Marks $id done for $ttl seconds. */
    public function complete(string $id, Owner $owner, int $ttl): void;

    /** Drops $owner's claim on $id (the effect failed: a retry must run it). */
    public function release(string $id, Owner $owner): void;

    public function isDone(string $id): bool;

    public function forget(string $id): void;
}
