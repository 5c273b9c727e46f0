<?php

declare(strict_types=1);

namespace PivotPHP\Runtime\RoadRunner\Jobs;

/**
 * Crash recovery for jobs drivers that drop a job when its worker dies.
 *
 * When a worker dies in the middle of a job (SIGKILL, segfault, OOM kill, exit()),
 * RoadRunner nacks the job. boltdb and the broker drivers put it back; RoadRunner 2023.3's
 * **memory** driver drops it (memoryjobs Item.Nack only decrements a counter). This journal
 * closes that gap on one machine (memory pipelines live in one RoadRunner process anyway):
 *
 * - before the handler runs, the task is written to `<directory>/<hash>.job` with the pid;
 * - after the answer went to RoadRunner, the file is removed;
 * - a consumer starting up (RoadRunner starts one to replace each dead worker) re-dispatches
 *   the files of dead pids with the same id, name, pipeline, headers and payload.
 *
 * A job is re-dispatched at most $maxRecoveries times (header X-Crash-Recoveries), so a job
 * that kills its worker every time does not loop forever. Delivery is at least once: a
 * worker killed after its answer left but before the file was removed gets its job run
 * again, so handlers should be idempotent (which at-least-once queues require anyway).
 */
final class InFlightJournal
{
    public const RECOVERIES_HEADER = 'X-Crash-Recoveries';
    public const DEFAULT_DRIVERS = ['memory'];

    private const SUFFIX = '.job';
    private const CLAIM = '.claim-';

    /** @var \Closure(int): bool */
    private readonly \Closure $isAlive;

    /**
     * @param list<string> $drivers the drivers whose tasks are journaled (those that drop on crash)
     */
    public function __construct(
        public readonly string $directory,
        private readonly array $drivers = self::DEFAULT_DRIVERS,
        private readonly int $maxRecoveries = 3,
        ?\Closure $isAlive = null,
    ) {
        if (!is_dir($directory) && !@mkdir($directory, 0700, true) && !is_dir($directory)) {
            throw new \RuntimeException(sprintf('Cannot create the jobs journal directory %s', $directory));
        }
        $this->isAlive = $isAlive ?? self::processIsAlive(...);
    }

    /** `<state directory>/in-flight` ({@see StateDirectory}). */
    public static function fromEnvironment(): self
    {
        return new self(StateDirectory::fromEnvironment() . '/in-flight');
    }

    public function covers(Task $task): bool
    {
        return in_array($task->driver, $this->drivers, true);
    }

    public function record(Task $task): void
    {
        $entry = json_encode([
            'pid' => getmypid(),
            'id' => $task->id,
            'name' => $task->name,
            'pipeline' => $task->pipeline,
            'headers' => Headers::toObject($task->headers),
            'payload' => base64_encode($task->payload),
        ], JSON_THROW_ON_ERROR | JSON_UNESCAPED_SLASHES | JSON_INVALID_UTF8_SUBSTITUTE);

        $file = $this->file($task);
        $temporary = $file . '.tmp-' . getmypid();
        if (@file_put_contents($temporary, $entry) !== strlen($entry) || !@rename($temporary, $file)) {
            @unlink($temporary);
            throw new \RuntimeException(sprintf('Cannot write the jobs journal entry %s', $file));
        }
    }

    public function complete(Task $task): void
    {
        @unlink($this->file($task));
    }

    /**
     * Re-dispatches the jobs of dead workers.
     *
     * @param \Closure(string): void $log
     *
     * @return int how many jobs were re-dispatched
     */
    public function recover(Jobs $jobs, \Closure $log): int
    {
        $recovered = 0;
        $files = array_merge(
            glob($this->directory . '/*' . self::SUFFIX) ?: [],
            glob($this->directory . '/*' . self::SUFFIX . self::CLAIM . '*') ?: [],
        );
        foreach ($files as $file) {
            $recovered += $this->recoverFile($file, $jobs, $log) ? 1 : 0;
        }

        return $recovered;
    }

    private function recoverFile(string $file, Jobs $jobs, \Closure $log): bool
    {
        $claimPosition = strpos($file, self::SUFFIX . self::CLAIM);
        if ($claimPosition !== false) {
            // Claimed by a recovering worker: only take it over if that worker died too.
            $claimer = (int) substr($file, $claimPosition + strlen(self::SUFFIX . self::CLAIM));
            if ($claimer === getmypid() || ($this->isAlive)($claimer)) {
                return false;
            }
            $base = substr($file, 0, $claimPosition + strlen(self::SUFFIX));
        } else {
            $entry = $this->read($file);
            if ($entry === null || ($entry['pid'] !== getmypid() && ($this->isAlive)($entry['pid']))) {
                return false; // still being worked on
            }
            $base = $file;
        }

        $claimed = $base . self::CLAIM . getmypid();
        if (!@rename($file, $claimed)) {
            return false; // another worker was faster
        }
        $entry = $this->read($claimed);
        if ($entry === null) {
            @unlink($claimed);

            return false;
        }

        $recoveries = (int) (Headers::first($entry['headers'], self::RECOVERIES_HEADER) ?? '0');
        $description = sprintf('job "%s" (id %s, pipeline %s)', $entry['name'], $entry['id'], $entry['pipeline']);
        if ($recoveries >= $this->maxRecoveries) {
            $log(sprintf('jobs journal: %s killed its worker %d times; dropping it', $description, $recoveries + 1));
            @unlink($claimed);

            return false;
        }

        try {
            $jobs->push(new Job($entry['pipeline'], $entry['name'], $entry['payload'], [
                'id' => $entry['id'],
                'headers' => Headers::with($entry['headers'], self::RECOVERIES_HEADER, (string) ($recoveries + 1)),
            ]));
        } catch (\Throwable $e) {
            @rename($claimed, $base); // leave it for the next worker that starts
            $log(sprintf('jobs journal: could not re-dispatch %s: %s', $description, $e->getMessage()));

            return false;
        }
        @unlink($claimed);
        $log(sprintf(
            'jobs journal: re-dispatched %s, its worker (pid %d) died while running it',
            $description,
            $entry['pid'],
        ));

        return true;
    }

    /**
     * @return array{pid: int, id: string, name: string, pipeline: string,
     *               headers: array<string, list<string>>, payload: string}|null
     */
    private function read(string $file): ?array
    {
        $json = @file_get_contents($file);
        $entry = is_string($json) ? json_decode($json, true) : null;
        if (!is_array($entry) || !is_int($entry['pid'] ?? null) || !is_string($entry['id'] ?? null)
            || !is_string($entry['name'] ?? null) || !is_string($entry['pipeline'] ?? null)) {
            return null;
        }
        $payload = base64_decode((string) ($entry['payload'] ?? ''), true);

        return [
            'pid' => $entry['pid'],
            'id' => $entry['id'],
            'name' => $entry['name'],
            'pipeline' => $entry['pipeline'],
            'headers' => Headers::normalize(is_array($entry['headers'] ?? null) ? $entry['headers'] : []),
            'payload' => $payload === false ? '' : $payload,
        ];
    }

    private function file(Task $task): string
    {
        return $this->directory . '/' . sha1($task->pipeline . "\0" . $task->id) . self::SUFFIX;
    }

    /** Linux: /proc/<pid> exists and is not a zombie; elsewhere posix_kill(pid, 0). */
    public static function processIsAlive(int $pid): bool
    {
        if ($pid <= 0) {
            return false;
        }
        if (is_dir('/proc/self')) {
            $stat = @file_get_contents("/proc/$pid/stat");
            if ($stat === false) {
                return false;
            }
            $state = substr($stat, (int) strrpos($stat, ')') + 2, 1);

            return $state !== 'Z' && $state !== 'X';
        }
        if (function_exists('posix_kill')) {
            return posix_kill($pid, 0);
        }

        return true; // cannot tell: never steal a job that may still be running
    }
}
