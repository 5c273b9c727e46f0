<?php

declare(strict_types=1);

namespace PivotPHP\Runtime\RoadRunner\Jobs\Idempotency;

/** What {@see IdempotencyStore::claim()} found: the job is now ours, done already, or busy elsewhere. */
final class Claim
{
    public const CLAIMED = 'claimed';
    public const DONE = 'done';
    public const BUSY = 'busy';

    /**
     * @param string|null $holder     BUSY: who holds the claim
     * @param int         $retryAfter BUSY: seconds until the holder's lease ends
     * @param bool        $tookOver   CLAIMED: from a holder that died or whose lease ran out
     */
    private function __construct(
        public readonly string $state,
        public readonly ?string $holder = null,
        public readonly int $retryAfter = 0,
        public readonly bool $tookOver = false,
    ) {
    }

    public static function claimed(bool $tookOver = false): self
    {
        return new self(self::CLAIMED, null, 0, $tookOver);
    }

    public static function done(): self
    {
        return new self(self::DONE);
    }

    public static function busy(string $holder, int $retryAfter): self
    {
        return new self(self::BUSY, $holder, $retryAfter);
    }
}
