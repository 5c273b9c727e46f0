<?php

declare(strict_types=1);

namespace PivotPHP\Runtime\RoadRunner\Jobs;

use PivotPHP\Runtime\RoadRunner\Lifecycle\Config;
use PivotPHP\Runtime\RoadRunner\Lifecycle\WorkerManager;
use PivotPHP\Runtime\RoadRunner\Payload;
use PivotPHP\Runtime\RoadRunner\Worker;

/**
 * The jobs worker loop (RR_MODE=jobs): hands each task to the handler registered for its
 * job name and answers RoadRunner.
 *
 * - handler returns            → ack
 * - handler throws             → requeue with the retry policy's delay and X-Attempt + 1,
 *                                or, after the last attempt, fail (RoadRunner logs and drops it)
 * - PermanentFailureException  → fail at once, no retry
 * - JobInProgressException     → ({@see Idempotency}) requeue after its retryAfter, same attempt
 * - no handler for the name    → fail with a message naming the registered jobs; the
 *                                worker keeps serving
 * - unreadable task            → fail, no retry
 *
 *     $consumer = Consumer::create();
 *     $consumer->register('thumbnail', function (Task $task): void { ... });
 *     $consumer->run();
 */
final class Consumer
{
    /** @var array<string, array{0: \Closure(Task): mixed, 1: RetryPolicy|null}> */
    private array $handlers = [];

    /** @var \Closure(string): void */
    private readonly \Closure $log;

    /**
     * @param InFlightJournal|null $journal  crash recovery for drivers that drop the jobs of
     *                                       dead workers (memory); needs $jobs to re-dispatch
     * @param AttemptStore|null    $attempts attempt numbers for drivers that lose headers (boltdb)
     * @param DelaySlots|null      $slots    distinct due seconds for delayed requeues (boltdb)
     */
    public function __construct(
        private readonly Worker $worker,
        private readonly RetryPolicy $retry = new RetryPolicy(),
        private readonly ?InFlightJournal $journal = null,
        private readonly ?Jobs $jobs = null,
        private readonly ?AttemptStore $attempts = null,
        private readonly ?DelaySlots $slots = null,
        ?\Closure $log = null,
    ) {
        $this->log = $log ?? static function (string $line): void {
            fwrite(STDERR, $line . "\n");
        };
    }

    /**
     * The consumer of this process: {@see Worker::create()} (RR_RELAY, output guard), jobs over
     * `RR_RPC`, the crash journal, attempt counters and delay slots in the {@see StateDirectory}.
     */
    public static function create(RetryPolicy $retry = new RetryPolicy()): self
    {
        $worker = Worker::create();
        $state = StateDirectory::fromEnvironment();

        return new self(
            $worker,
            $retry,
            new InFlightJournal($state . '/in-flight'),
            Jobs::fromEnvironment(),
            new AttemptStore($state . '/attempts'),
            new DelaySlots($state . '/delay-slots'),
        );
    }

    /**
     * @param callable(Task): mixed $handler
     * @param RetryPolicy|null      $retry   overrides the consumer's policy for this job name
     */
    public function register(string $name, callable $handler, ?RetryPolicy $retry = null): self
    {
        if (trim($name) === '') {
            throw new \InvalidArgumentException('Job name must not be empty');
        }
        $this->handlers[$name] = [$handler(...), $retry];

        return $this;
    }

    /** @return list<string> */
    public function registered(): array
    {
        $names = array_map('strval', array_keys($this->handlers));
        sort($names);

        return $names;
    }

    /**
     * Serves tasks until RoadRunner stops the worker, under the same worker limits as the HTTP
     * workers: a {@see WorkerManager} (by default configured from the PIVOT_MAX_REQUESTS,
     * PIVOT_MEMORY_LIMIT, PIVOT_TTL and PIVOT_GC_THRESHOLD environment variables, where a
     * "request" is a task) collects garbage when memory grows and decides when the worker is
     * replaced. The replacement drops nothing: the next task is handed back to RoadRunner,
     * which runs it on a fresh worker and stops this one.
     */
    public function run(?WorkerManager $manager = null): void
    {
        $manager ??= new WorkerManager(Config::fromArray());

        $this->serve(
            afterTask: static function () use ($manager): void {
                $manager->requestFinished();
            },
            recycleReason: static fn (): ?string => $manager->shouldRecycle() ? $manager->recycleReason() : null,
        );
    }

    /**
     * The worker loop with the limits given as two closures (what {@see run()} builds from a
     * WorkerManager).
     *
     * @param (\Closure(Task|null, bool): void)|null $afterTask     called after each answered task
     *                                                              with whether it succeeded
     * @param (\Closure(): ?string)|null              $recycleReason asked when a task arrives; a
     *        reason retires this worker: the task is handed back to RoadRunner ({"stop":true}),
     *        which runs it on a fresh worker and stops this one. Nothing is lost, unlike exiting
     *        while idle, when RoadRunner may be sending a task at that very moment.
     */
    public function serve(?\Closure $afterTask = null, ?\Closure $recycleReason = null): void
    {
        $this->recover();
        $announced = false;

        while (($payload = $this->worker->waitPayload()) !== null) {
            $reason = $recycleReason === null ? null : $recycleReason();
            if ($reason !== null) {
                if (!$announced) {
                    ($this->log)(sprintf(
                        'Replacing this jobs worker (pid %d): it %s; its next task goes to a fresh worker',
                        getmypid(),
                        $reason,
                    ));
                    $announced = true;
                }
                $this->worker->stop();
                continue;
            }
            [$task, $succeeded] = $this->handle($payload);
            if ($afterTask !== null) {
                $afterTask($task, $succeeded);
            }
        }
    }

    /**
     * Handles one task and answers RoadRunner.
     *
     * @return array{0: Task|null, 1: bool} the task (null when unreadable) and whether it succeeded
     */
    public function handle(Payload $payload): array
    {
        try {
            $task = Task::fromPayload($payload->context, $payload->body);
        } catch (InvalidTaskException $e) {
            $this->answer(TaskResponse::fail($e->getMessage()), 'unreadable task: ' . $e->getMessage());

            return [null, false];
        }

        // No X-Attempt header: first delivery, or a driver that lost it (boltdb).
        $counted = $this->attempts !== null && $task->header(Task::ATTEMPT_HEADER) === null;
        if ($counted) {
            $task = $task->withAttempt($this->attempts->attemptOf($task));
        }

        $handler = $this->handlers[$task->name] ?? null;
        if ($handler === null) {
            $message = sprintf(
                'No handler registered for job "%s" (id %s, pipeline %s); this worker handles: %s',
                $task->name,
                $task->id,
                $task->pipeline,
                $this->handlers === [] ? 'nothing' : implode(', ', $this->registered()),
            );
            $this->answer(TaskResponse::fail($message), $message);

            return [$task, false];
        }

        $journaled = $this->journal !== null && $this->journal->covers($task);
        if ($journaled) {
            $this->journal->record($task);
        }

        $requeued = false;
        try {
            ($handler[0])($task);
            [$body, $logLine, $succeeded] = [TaskResponse::ack(), null, true];
        } catch (\Throwable $e) {
            [$body, $logLine, $requeued] = $this->failure($task, $e, $handler[1] ?? $this->retry);
            $succeeded = false;
        }
        if ($this->attempts !== null) {
            // Before the answer: a requeued job may reach another worker right after it.
            if (!$requeued) {
                $this->attempts->forget($task);
            } elseif ($counted) {
                $this->attempts->recordFailure($task);
            }
        }
        $this->answer($body, $logLine);
        if ($journaled) {
            $this->journal->complete($task); // only once the answer is out: a crash before leaves it for recovery
        }

        return [$task, $succeeded];
    }

    /** @return array{0: string, 1: string, 2: bool} response body, log line, whether requeued */
    private function failure(Task $task, \Throwable $e, RetryPolicy $policy): array
    {
        if ($e instanceof JobInProgressException) {
            // another worker runs this very job: look again once its claim can have ended,
            // without spending an attempt (the task did not fail)
            $message = sprintf('%s is being handled by %s; requeued for %d s, attempt not counted', $task->describe(), $e->holder, $e->retryAfter);

            return [TaskResponse::requeue($message, $e->retryAfter, $task->headers), $message, true];
        }
        $reason = sprintf('%s: %s (%s:%d)', $e::class, $e->getMessage(), $e->getFile(), $e->getLine());

        if (!$e instanceof PermanentFailureException && $policy->shouldRetry($task->attempt)) {
            $delay = $policy->delayAfter($task->attempt);
            if ($delay > 0 && $this->slots !== null && $this->slots->covers($task)) {
                $delay = $this->slots->reserve($task, $delay);
            }
            $headers = Headers::with($task->headers, Task::ATTEMPT_HEADER, (string) ($task->attempt + 1));
            $message = sprintf(
                '%s failed, retry %d of %d in %d s: %s',
                $task->describe(),
                $task->attempt,
                $policy->maxAttempts - 1,
                $delay,
                $reason,
            );

            return [TaskResponse::requeue($message, $delay, $headers), $message, true];
        }

        $message = $e instanceof PermanentFailureException
            ? sprintf('%s failed permanently: %s', $task->describe(), $reason)
            : sprintf(
                '%s failed after %d attempt%s, giving up: %s',
                $task->describe(),
                $task->attempt,
                $task->attempt > 1 ? 's' : '',
                $reason,
            );

        return [TaskResponse::fail($message), $message, false];
    }

    private function answer(string $body, ?string $logLine = null): void
    {
        if ($logLine !== null) {
            ($this->log)($logLine);
        }
        $this->worker->respond(new Payload('', $body));
    }

    private function recover(): void
    {
        if ($this->journal === null || $this->jobs === null) {
            return;
        }
        try {
            $this->journal->recover($this->jobs, $this->log);
        } catch (\Throwable $e) {
            ($this->log)('jobs journal: recovery failed: ' . $e->getMessage());
        }
    }
}
