<?php

declare(strict_types=1);

namespace PivotPHP\Runtime\RoadRunner\Jobs;

/**
 * Counts the attempts of jobs whose driver does not keep headers.
 *
 * The consumer numbers attempts with the X-Attempt header it sets on requeue. RoadRunner
 * 2023.3's boltdb driver stores jobs with gob and its headers field is unexported, so every
 * header is lost on the way through the database, X-Attempt included: without this store a
 * failing boltdb job would be retried forever as "attempt 1". boltdb is local to one machine,
 * so a counter file per job in a local directory is enough.
 */
final class AttemptStore
{
    public function __construct(public readonly string $directory)
    {
        if (!is_dir($directory) && !@mkdir($directory, 0700, true) && !is_dir($directory)) {
            throw new \RuntimeException(sprintf('Cannot create the jobs attempts directory %s', $directory));
        }
    }

    /** The attempt $task is on: 1 + the failures recorded for it. */
    public function attemptOf(Task $task): int
    {
        $count = @file_get_contents($this->file($task));

        return is_string($count) && ctype_digit(trim($count)) ? (int) trim($count) + 1 : 1;
    }

    public function recordFailure(Task $task): void
    {
        $file = $this->file($task);
        $temporary = $file . '.tmp-' . getmypid();
        if (@file_put_contents($temporary, (string) $task->attempt) === false || !@rename($temporary, $file)) {
            @unlink($temporary);
            throw new \RuntimeException(sprintf('Cannot record the attempt of %s in %s', $task->describe(), $file));
        }
    }

    public function forget(Task $task): void
    {
        @unlink($this->file($task));
    }

    private function file(Task $task): string
    {
        return $this->directory . '/' . sha1($task->pipeline . "\0" . $task->id);
    }
}
