<?php

/**
 * The worker of tests/amqp, run by every rr instance of the test (RR_MODE says which role):
 *
 *   http  GET  /ping                       "pong" (HTTP keeps serving whatever the broker does)
 *         POST /push?from=N&count=M        dispatches jobs job-N … job-(N+M-1) to the "work"
 *                                          pipeline, one jobs.Push each; 200 {"pushed", "seconds"},
 *                                          503 with the exception's message on the first failure
 *         POST /push-one?id=ID             dispatches one job; 503 with the message on failure
 *   jobs  "work": appends one line to $AMQP_E2E_STATE/handled/<id> on every delivery (repeats
 *         countable), sleeps AMQP_E2E_SLEEP_MS, then — once per job id, through
 *         Jobs\Idempotency on $AMQP_E2E_STATE/idempotency shared by every instance — appends
 *         one line to $AMQP_E2E_STATE/effects/<id>.
 */

declare(strict_types=1);

use PivotPHP\Runtime\RoadRunner\Http\HttpWorker;
use PivotPHP\Runtime\RoadRunner\Jobs\Consumer;
use PivotPHP\Runtime\RoadRunner\Jobs\Idempotency;
use PivotPHP\Runtime\RoadRunner\Jobs\Job;
use PivotPHP\Runtime\RoadRunner\Jobs\Jobs;
use PivotPHP\Runtime\RoadRunner\Jobs\RetryPolicy;
use PivotPHP\Runtime\RoadRunner\Jobs\Task;

$autoload = getenv('PIVOT_PHP_AUTOLOAD');
require is_string($autoload) && $autoload !== '' ? $autoload : __DIR__ . '/../../../php/autoload.php';

$state = (string) getenv('AMQP_E2E_STATE');
$instance = (string) getenv('AMQP_E2E_INSTANCE');

if (getenv('RR_MODE') === 'jobs') {
    $sleep = (int) getenv('AMQP_E2E_SLEEP_MS') * 1000;
    $once = Idempotency::inDirectory($state . '/idempotency', lease: 30);
    Consumer::create(new RetryPolicy(maxAttempts: 10, delaySeconds: 1))
        ->register('work', static function (Task $task) use ($state, $instance, $sleep, $once): void {
            $id = basename($task->id);
            file_put_contents("$state/handled/$id", sprintf("%s %d\n", $instance, getmypid()), FILE_APPEND | LOCK_EX);
            if ($sleep > 0) {
                usleep($sleep);
            }
            $once->run($task, static function () use ($state, $instance, $id): void {
                file_put_contents("$state/effects/$id", $instance . "\n", FILE_APPEND | LOCK_EX);
            });
        })
        ->run();

    return;
}

$jobs = Jobs::fromEnvironment();
$worker = HttpWorker::create();

while ($request = $worker->waitRequest()) {
    try {
        $path = $request->path();
        $query = $request->query;
        if ($path === '/ping') {
            $worker->respond(200, 'pong');
        } elseif ($request->method === 'POST' && $path === '/push') {
            $from = (int) ($query['from'] ?? 0);
            $count = (int) ($query['count'] ?? 1);
            $start = microtime(true);
            $pushed = 0;
            try {
                for ($i = $from; $i < $from + $count; $i++) {
                    $id = sprintf('job-%04d', $i);
                    $jobs->push(new Job('work', 'work', $id, ['id' => $id]));
                    $pushed++;
                }
                $worker->respond(200, json_encode(['pushed' => $pushed, 'seconds' => microtime(true) - $start]), ['Content-Type' => 'application/json']);
            } catch (\Throwable $e) {
                $worker->respond(503, sprintf('pushed %d, then %s: %s', $pushed, $e::class, $e->getMessage()));
            }
        } elseif ($request->method === 'POST' && $path === '/push-one') {
            $id = (string) ($query['id'] ?? Job::uuid4());
            $start = microtime(true);
            try {
                $jobs->push(new Job('work', 'work', $id, ['id' => $id]));
                $worker->respond(200, $id);
            } catch (\Throwable $e) {
                $worker->respond(503, sprintf('%s after %.3f s: %s', $e::class, microtime(true) - $start, $e->getMessage()));
            }
        } else {
            $worker->respond(404, 'not found: ' . $path);
        }
    } catch (\Throwable $e) {
        fwrite(STDERR, $e . "\n");
        $worker->respond(500, $e->getMessage());
    }
}
