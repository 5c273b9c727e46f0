<?php

declare(strict_types=1);

namespace PivotPHP\Runtime\RoadRunner\Jobs;

use PivotPHP\Runtime\RoadRunner\Jobs\Idempotency\Claim;
use PivotPHP\Runtime\RoadRunner\Jobs\Idempotency\DirectoryStore;
use PivotPHP\Runtime\RoadRunner\Jobs\Idempotency\IdempotencyStore;
use PivotPHP\Runtime\RoadRunner\Jobs\Idempotency\KvStore;
use PivotPHP\Runtime\RoadRunner\Jobs\Idempotency\Owner;
use PivotPHP\Runtime\RoadRunner\KV\Storage;

/**
 * Drops the repeats of a job by its id. Queues deliver at least once: amqp redelivers what a
 * crashed or disconnected consumer did not acknowledge, a job can run again after its
 * effect was done. Wrapped in this, a handler's effect runs once per job id (within the TTL):
 *
 *     $once = Idempotency::inDirectory('/var/lib/app/jobs-done');   // or ::inKv($storage)
 *     $consumer->register('send-email', $once->wrap(function (Task $task): void { ... }));
 *
 * Per delivery: the job id is claimed (a record "in progress, by this worker" with a lease);
 * - already done (a run completed within the TTL): the effect does not run, the task is acked;
 * - claimed by a worker that still runs it: {@see JobInProgressException}, which the
 *   {@see Consumer} requeues after the lease's remaining time without counting an attempt;
 * - claimed by a worker that died (same host, its pid is gone) or whose lease ran out (the
 *   lease is the longest a run may take): taken over;
 * - otherwise: the effect runs; returns → done, kept for the TTL; throws → the claim is
 *   released (a retry runs the effect again) and the exception goes on to the consumer.
 *
 * A crash after the effect and before it is marked done runs the effect again on the
 * redelivery: nothing can make an arbitrary effect and the mark one atomic step. Keep that
 * window small (do slow work before the effect, not after) or make the effect itself
 * idempotent where it matters. The stores: {@see DirectoryStore} (exact: every transition
 * under an exclusive lock; one host, or a shared filesystem with working locks) and
 * {@see KvStore} (RoadRunner kv, shared by every host; best effort: RoadRunner's kv has no
 * set-if-absent, so two deliveries of the same job within one KV round trip of each other can
 * both run).
 */
final class Idempotency
{
    public const DEFAULT_TTL = 86400;
    public const DEFAULT_LEASE = 300;

    private readonly Owner $owner;

    /**
     * @param int $ttl   seconds a done job is remembered (repeats later than this run again)
     * @param int $lease seconds a claim holds: the longest a run may take (a holder known dead,
     *                   on this host, loses it at once)
     */
    public function __construct(
        private readonly IdempotencyStore $store,
        public readonly int $ttl = self::DEFAULT_TTL,
        public readonly int $lease = self::DEFAULT_LEASE,
        ?Owner $owner = null,
    ) {
        if ($ttl < 1 || $lease < 1) {
            throw new \InvalidArgumentException('Idempotency: ttl and lease must be at least 1 second');
        }
        $this->owner = $owner ?? Owner::current();
    }

    /** Job ids under $directory (created if missing), one file each. */
    public static function inDirectory(string $directory, int $ttl = self::DEFAULT_TTL, int $lease = self::DEFAULT_LEASE): self
    {
        return new self(new DirectoryStore($directory), $ttl, $lease);
    }

    /** Job ids in a RoadRunner KV storage, under keys "$prefix<id>". */
    public static function inKv(
        Storage $storage,
        int $ttl = self::DEFAULT_TTL,
        int $lease = self::DEFAULT_LEASE,
        string $prefix = 'pivot-job-done:',
    ): self {
        return new self(new KvStore($storage, $prefix), $ttl, $lease);
    }

    /**
     * Runs $effect for $task unless the same job id was done already.
     *
     * @param callable(Task): mixed $effect
     *
     * @return bool true when the effect ran, false when the task was a repeat and was dropped
     *
     * @throws JobInProgressException while another live worker runs the same job
     */
    public function run(Task $task, callable $effect): bool
    {
        $claim = $this->store->claim($task->id, $this->owner, $this->lease, $this->ttl);
        switch ($claim->state) {
            case Claim::DONE:
                return false;
            case Claim::BUSY:
                throw new JobInProgressException($task, $claim->holder ?? 'another worker', max(1, $claim->retryAfter));
        }
        try {
            $effect($task);
        } catch (\Throwable $e) {
            try {
                $this->store->release($task->id, $this->owner);
            } catch (\Throwable) {
                // the lease ends the claim anyway; the handler's failure is what matters
            }
            throw $e;
        }
        $this->store->complete($task->id, $this->owner, $this->ttl);

        return true;
    }

    /**
     * $handler wrapped for {@see Consumer::register()}: run through {@see run()}.
     *
     * @param callable(Task): mixed $handler
     *
     * @return \Closure(Task): void
     */
    public function wrap(callable $handler): \Closure
    {
        $handler = $handler(...);

        return function (Task $task) use ($handler): void {
            $this->run($task, $handler);
        };
    }

    /** Whether a run of job $id completed within the TTL. */
    public function done(string $id): bool
    {
        return $this->store->isDone($id);
    }

    /** Forgets job $id: its next delivery runs the effect again. */
    public function forget(string $id): void
    {
        $this->store->forget($id);
    }
}
