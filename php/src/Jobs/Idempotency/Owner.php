<?php

declare(strict_types=1);

namespace PivotPHP\Runtime\RoadRunner\Jobs\Idempotency;

/**
 * Who holds a claim: host, pid and a token unique to this process's run. On the same host a
 * claim whose pid is gone is known dead at once (a worker killed, rr SIGKILLed); from other
 * hosts only the lease tells.
 */
final class Owner
{
    private static ?self $current = null;

    public function __construct(
        public readonly string $host,
        public readonly int $pid,
        public readonly string $token,
    ) {
    }

    public static function current(): self
    {
        $pid = (int) getmypid();
        if (self::$current === null || self::$current->pid !== $pid) { // a fork gets its own
            self::$current = new self((string) gethostname(), $pid, bin2hex(random_bytes(8)));
        }

        return self::$current;
    }

    public function id(): string
    {
        return sprintf('%s/%d/%s', $this->host, $this->pid, $this->token);
    }

    /** @return array{host: string, pid: int, token: string} */
    public function toArray(): array
    {
        return ['host' => $this->host, 'pid' => $this->pid, 'token' => $this->token];
    }

    public static function fromArray(mixed $data): ?self
    {
        if (!is_array($data) || !is_string($data['host'] ?? null) || !is_int($data['pid'] ?? null) || !is_string($data['token'] ?? null)) {
            return null;
        }

        return new self($data['host'], $data['pid'], $data['token']);
    }

    public function sameAs(self $other): bool
    {
        return $this->host === $other->host && $this->pid === $other->pid && $this->token === $other->token;
    }

    /** Whether this owner is known to be dead: on this host, and its pid is gone (or reused by a later run). */
    public function isDeadSeenFrom(self $observer): bool
    {
        if ($this->host !== $observer->host) {
            return false;
        }
        if ($this->pid === $observer->pid) {
            return $this->token !== $observer->token; // this pid, but an earlier process
        }
        if (function_exists('posix_kill')) {
            return !posix_kill($this->pid, 0) && posix_get_last_error() === 3; // ESRCH
        }

        return is_dir('/proc/1') && !file_exists('/proc/' . $this->pid);
    }
}
