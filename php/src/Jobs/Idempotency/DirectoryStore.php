<?php

declare(strict_types=1);

namespace PivotPHP\Runtime\RoadRunner\Jobs\Idempotency;

/**
 * Job ids as files under a directory (`<dir>/<2 hex>/<sha1 of the id>.json`), each read and
 * changed only under an exclusive flock(): claims are exact between every worker of every rr
 * on the host, and between hosts on a shared filesystem whose locks work (NFSv4, not NFSv2/3
 * without lockd). A record whose file another process removed while this one waited for its
 * lock is read again from the new file, so purge() and release() cannot lose a claim.
 *
 * Done records are kept until their TTL passes; expired files are only reclaimed by
 * {@see purge()} (run it from a cron job or a periodic task) or when the same id comes again.
 */
final class DirectoryStore implements IdempotencyStore
{
    /** @var \Closure(): float */
    private readonly \Closure $clock;

    public function __construct(public readonly string $directory, ?\Closure $clock = null)
    {
        if (trim($directory) === '') {
            throw new \InvalidArgumentException('Idempotency directory must not be empty');
        }
        $this->clock = $clock ?? static fn (): float => microtime(true);
    }

    public function claim(string $id, Owner $owner, int $lease, int $ttl): Claim
    {
        return $this->locked($id, function (?Record $record) use ($owner, $lease): array {
            $now = ($this->clock)();
            $decision = $record?->decide($owner, $now);
            if ($decision instanceof Claim) {
                return [$decision, null];
            }

            return [Claim::claimed($decision === Record::TAKE_OVER), Record::claimed($owner, $now + $lease)];
        });
    }

    public function complete(string $id, Owner $owner, int $ttl): void
    {
        $this->locked($id, fn (): array => [null, Record::done($owner, ($this->clock)() + $ttl)]);
    }

    public function release(string $id, Owner $owner): void
    {
        $this->locked($id, static fn (?Record $record): array => [
            null,
            $record !== null && $record->state === Record::CLAIMED && $record->owner?->sameAs($owner) ? Record::DELETE : null,
        ]);
    }

    public function isDone(string $id): bool
    {
        $record = Record::decode((string) @file_get_contents($this->path($id)));

        return $record !== null && $record->state === Record::DONE && $record->until > ($this->clock)();
    }

    public function forget(string $id): void
    {
        $this->locked($id, static fn (): array => [null, Record::DELETE]);
    }

    /** Removes every expired record (done past its TTL, claims past their lease); returns how many. */
    public function purge(): int
    {
        $removed = 0;
        foreach (glob($this->directory . '/*/*.json') ?: [] as $path) {
            $removed += $this->lockedPath($path, function (?Record $record): array {
                $expired = $record === null || $record->until <= ($this->clock)();

                return [$expired ? 1 : 0, $expired ? Record::DELETE : null];
            }, create: false) ?? 0;
        }

        return $removed;
    }

    private function path(string $id): string
    {
        $hash = sha1($id);

        return $this->directory . '/' . substr($hash, 0, 2) . '/' . $hash . '.json';
    }

    /**
     * @template T
     *
     * @param \Closure(?Record): array{0: T, 1: Record|string|null} $change the result, and the
     *        record to write (Record::DELETE removes the file, null leaves it)
     *
     * @return T
     */
    private function locked(string $id, \Closure $change): mixed
    {
        $path = $this->path($id);
        $dir = dirname($path);
        if (!is_dir($dir) && !@mkdir($dir, 0777, true) && !is_dir($dir)) {
            throw new IdempotencyException(sprintf('Idempotency: cannot create %s', $dir));
        }

        return $this->lockedPath($path, $change, create: true);
    }

    private function lockedPath(string $path, \Closure $change, bool $create): mixed
    {
        for ($try = 0; $try < 50; $try++) {
            $fp = @fopen($path, $create ? 'c+' : 'r+');
            if ($fp === false) {
                if (!$create) {
                    return null; // removed meanwhile
                }
                throw new IdempotencyException(sprintf('Idempotency: cannot open %s: %s', $path, error_get_last()['message'] ?? 'unknown error'));
            }
            try {
                if (!flock($fp, LOCK_EX)) {
                    throw new IdempotencyException(sprintf('Idempotency: cannot lock %s', $path));
                }
                // another process may have removed (and someone recreated) the file while we
                // waited: our descriptor then points at a file nobody else will ever lock
                $held = fstat($fp);
                clearstatcache(true, $path);
                $current = @stat($path);
                if ($current === false || $held === false || $current['ino'] !== $held['ino'] || $current['dev'] !== $held['dev']) {
                    if (!$create && $current === false) {
                        return null;
                    }
                    continue;
                }
                $record = Record::decode((string) stream_get_contents($fp, -1, 0));
                [$result, $write] = $change($record);
                if ($write === Record::DELETE) {
                    @unlink($path);
                } elseif ($write instanceof Record) {
                    ftruncate($fp, 0);
                    rewind($fp);
                    fwrite($fp, $write->encode());
                    fflush($fp);
                }

                return $result;
            } finally {
                flock($fp, LOCK_UN);
                fclose($fp);
            }
        }
        throw new IdempotencyException(sprintf('Idempotency: %s keeps being replaced; giving up', $path));
    }
}
