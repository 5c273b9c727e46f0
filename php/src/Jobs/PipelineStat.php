<?php

declare(strict_types=1);

namespace PivotPHP\Runtime\RoadRunner\Jobs;

/**
 * One pipeline as jobs.Stat reports it. `ready` false means paused.
 */
final class PipelineStat
{
    public function __construct(
        public readonly string $pipeline,
        public readonly string $driver,
        public readonly string $queue,
        public readonly int $active,
        public readonly int $delayed,
        public readonly int $reserved,
        public readonly bool $ready,
        public readonly int $priority,
    ) {
    }

    /** From the JSON reply, where zero values are omitted. */
    public static function fromArray(array $stat): self
    {
        return new self(
            (string) ($stat['pipeline'] ?? ''),
            (string) ($stat['driver'] ?? ''),
            (string) ($stat['queue'] ?? ''),
            (int) ($stat['active'] ?? 0),
            (int) ($stat['delayed'] ?? 0),
            (int) ($stat['reserved'] ?? 0),
            (bool) ($stat['ready'] ?? false),
            (int) ($stat['priority'] ?? 0),
        );
    }
}
