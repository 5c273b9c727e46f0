<?php

declare(strict_types=1);

namespace PivotPHP\Runtime\RoadRunner\Jobs\Idempotency;

/**
 * One job id's record in a store: claimed (in progress) or done, by whom, until when (a
 * claim's lease, a done record's TTL). JSON: {"state":…,"owner":{host,pid,token},"until":…}.
 *
 * @internal
 */
final class Record
{
    public const CLAIMED = 'claimed';
    public const DONE = 'done';
    /** the store's "remove the record" */
    public const DELETE = 'delete';
    /** {@see decide()}: the record's holder is gone, claim it */
    public const TAKE_OVER = 'take over';

    private function __construct(
        public readonly string $state,
        public readonly ?Owner $owner,
        public readonly float $until,
    ) {
    }

    public static function claimed(Owner $owner, float $until): self
    {
        return new self(self::CLAIMED, $owner, $until);
    }

    public static function done(Owner $owner, float $until): self
    {
        return new self(self::DONE, $owner, $until);
    }

    /**
     * What a claim by $claimer finds in this record at $now: a Claim (done, busy) to answer
     * as is, TAKE_OVER (the holder died or its lease ran out), or null (expired: claim it).
     */
    public function decide(Owner $claimer, float $now): Claim|string|null
    {
        if ($this->until <= $now) {
            return $this->state === self::CLAIMED ? self::TAKE_OVER : null;
        }
        if ($this->state === self::DONE) {
            return Claim::done();
        }
        if ($this->owner === null || $this->owner->sameAs($claimer)) {
            return null;
        }
        if ($this->owner->isDeadSeenFrom($claimer)) {
            return self::TAKE_OVER;
        }

        return Claim::busy($this->owner->id(), (int) ceil($this->until - $now));
    }

    public function encode(): string
    {
        return json_encode(
            ['state' => $this->state, 'owner' => $this->owner?->toArray(), 'until' => $this->until],
            JSON_THROW_ON_ERROR | JSON_PRESERVE_ZERO_FRACTION,
        );
    }

    /** null for an empty or unreadable record (treated as absent). */
    public static function decode(string $json): ?self
    {
        if ($json === '') {
            return null;
        }
        $data = json_decode($json, true);
        if (!is_array($data) || !in_array($data['state'] ?? null, [self::CLAIMED, self::DONE], true)
            || !is_int($data['until'] ?? null) && !is_float($data['until'] ?? null)) {
            return null;
        }

        return new self($data['state'], Owner::fromArray($data['owner'] ?? null), (float) $data['until']);
    }
}
