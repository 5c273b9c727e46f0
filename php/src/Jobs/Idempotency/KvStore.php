<?php

declare(strict_types=1);

namespace PivotPHP\Runtime\RoadRunner\Jobs\Idempotency;

use PivotPHP\Runtime\RoadRunner\KV\Storage;
use PivotPHP\Runtime\RoadRunner\KV\StorageException;

/**
 * Job ids in a RoadRunner KV storage (`kv:` in .rr.yaml: redis or memcached to share it
 * between hosts), one key each, expiring with the record (the claim's lease, the done TTL).
 *
 * Best effort: RoadRunner's kv RPC has no set-if-absent. A claim reads the key, writes its
 * own record, and reads it back; a writer that lost the race to another sees the other's
 * record and backs off. Two deliveries of the same job less than one KV round trip apart can
 * still both win. Repeats that far apart in time — a redelivery after a crash or a broker
 * restart — are always caught; for exact claims between the workers of one host use
 * {@see DirectoryStore}.
 */
final class KvStore implements IdempotencyStore
{
    /** @var \Closure(): float */
    private readonly \Closure $clock;

    public function __construct(
        private readonly Storage $storage,
        public readonly string $prefix = 'pivot-job-done:',
        ?\Closure $clock = null,
    ) {
        $this->clock = $clock ?? static fn (): float => microtime(true);
    }

    public function claim(string $id, Owner $owner, int $lease, int $ttl): Claim
    {
        $key = $this->key($id);
        $now = ($this->clock)();
        $decision = $this->read($key)?->decide($owner, $now);
        if ($decision instanceof Claim) {
            return $decision;
        }
        $this->write($key, Record::claimed($owner, $now + $lease), $lease);

        // last writer wins: read back whose claim stands
        $standing = $this->read($key);
        if ($standing !== null && $standing->owner !== null && !$standing->owner->sameAs($owner)) {
            $answer = $standing->decide($owner, ($this->clock)());

            return $answer instanceof Claim ? $answer : Claim::busy($standing->owner->id(), $lease);
        }

        return Claim::claimed($decision === Record::TAKE_OVER);
    }

    public function complete(string $id, Owner $owner, int $ttl): void
    {
        $this->write($this->key($id), Record::done($owner, ($this->clock)() + $ttl), $ttl);
    }

    public function release(string $id, Owner $owner): void
    {
        $key = $this->key($id);
        $record = $this->read($key);
        if ($record !== null && $record->state === Record::CLAIMED && $record->owner?->sameAs($owner)) {
            $this->call(fn () => $this->storage->delete($key));
        }
    }

    public function isDone(string $id): bool
    {
        $record = $this->read($this->key($id));

        return $record !== null && $record->state === Record::DONE && $record->until > ($this->clock)();
    }

    public function forget(string $id): void
    {
        $key = $this->key($id);
        $this->call(fn () => $this->storage->delete($key));
    }

    /** The key of job $id: the prefix and the id, or its sha1 when the id is long or unusual (memcached's rules). */
    public function key(string $id): string
    {
        return $this->prefix . (preg_match('/^[A-Za-z0-9._:-]{1,200}$/', $id) === 1 ? $id : 'sha1-' . sha1($id));
    }

    private function read(string $key): ?Record
    {
        $value = $this->call(fn () => $this->storage->get($key));

        return is_string($value) ? Record::decode($value) : null;
    }

    private function write(string $key, Record $record, int $ttl): void
    {
        // one second of margin: the KV TTL is whole seconds, the record's own time decides
        $this->call(fn () => $this->storage->set($key, $record->encode(), $ttl + 1));
    }

    private function call(\Closure $operation): mixed
    {
        try {
            return $operation();
        } catch (StorageException $e) {
            throw new IdempotencyException('Idempotency (KV storage "' . $this->storage->name . '"): ' . $e->getMessage(), 0, $e);
        }
    }
}
