<?php

declare(strict_types=1);

namespace PivotPHP\Runtime\RoadRunner\Jobs;

/**
 * Gives every delayed requeue on a boltdb pipeline its own due second.
 *
 * RoadRunner 2023.3's boltdb driver files a delayed job under its due time formatted to the
 * second (RFC 3339) and bbolt's Put replaces an existing key: two jobs delayed into the same
 * second overwrite each other and one is lost. When many jobs fail at once (an API down),
 * their retries would collide. This reserves due seconds in a local directory (boltdb lives
 * on one machine) with exclusive file creation, two adjacent seconds per job because the
 * driver computes the due time a moment after we do, so the delay can grow by a few seconds
 * under a burst; it never shrinks.
 *
 * Jobs dispatched with a delay by producers are not covered: RoadRunner does not say which
 * driver a pipeline uses when pushing.
 */
final class DelaySlots
{
    public const DRIVERS = ['boltdb'];

    /** @var \Closure(): float */
    private readonly \Closure $clock;

    public function __construct(public readonly string $directory, ?\Closure $clock = null)
    {
        $this->clock = $clock ?? static fn (): float => microtime(true);
    }

    public function covers(Task $task): bool
    {
        return in_array($task->driver, self::DRIVERS, true);
    }

    /** The delay to requeue $task with: at least $delay, due in a second no other job uses. */
    public function reserve(Task $task, int $delay): int
    {
        $directory = $this->directory . '/' . substr(sha1($task->pipeline), 0, 16);
        if (!is_dir($directory) && !@mkdir($directory, 0700, true) && !is_dir($directory)) {
            return $delay; // cannot coordinate: the driver's behaviour, as without this class
        }
        $now = (int) floor(($this->clock)());
        $this->sweep($directory, $now);

        for ($offset = 0; $offset < 3600; $offset += 2) {
            $due = $now + max(1, $delay) + $offset;
            if ($this->claim("$directory/$due") && $this->claim("$directory/" . ($due + 1))) {
                return $due - $now;
            }
        }

        return $delay;
    }

    private function claim(string $file): bool
    {
        $handle = @fopen($file, 'x');
        if ($handle === false) {
            return false;
        }
        fclose($handle);

        return true;
    }

    /** Slots in the past are free again; about one sweep a minute is plenty. */
    private function sweep(string $directory, int $now): void
    {
        if (random_int(0, 59) !== 0) {
            return;
        }
        foreach (scandir($directory) ?: [] as $name) {
            if (ctype_digit($name) && (int) $name < $now - 5) {
                @unlink("$directory/$name");
            }
        }
    }
}
