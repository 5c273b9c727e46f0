<?php

/**
 * The jobs example: one script, two roles. RoadRunner sets RR_MODE for each pool it starts:
 *
 *   RR_MODE=http  (pivot's HTTP workers)  routes that dispatch jobs, read results, use KV
 *   RR_MODE=jobs  (the jobs plugin's pool) the consumer that runs the jobs
 *
 *     ./rr serve -c examples/jobs/.rr.yaml
 *     curl -X POST --data 'hello jobs world' http://127.0.0.1:8080/jobs/digest
 *     curl http://127.0.0.1:8080/jobs/result/<id>
 *
 * The Go tests (tests/integration/jobs_kv_test.go) drive this script through the real RoadRunner plugins;
 * see README.md next to it for every route and job.
 */

declare(strict_types=1);

use PivotPHP\Runtime\RoadRunner\Exception\RoadRunnerException;
use PivotPHP\Runtime\RoadRunner\Http\HttpWorker;
use PivotPHP\Runtime\RoadRunner\Http\Request;
use PivotPHP\Runtime\RoadRunner\Jobs\Consumer;
use PivotPHP\Runtime\RoadRunner\Jobs\InvalidJobException;
use PivotPHP\Runtime\RoadRunner\Jobs\Jobs;
use PivotPHP\Runtime\RoadRunner\Jobs\PermanentFailureException;
use PivotPHP\Runtime\RoadRunner\Jobs\RetryPolicy;
use PivotPHP\Runtime\RoadRunner\Jobs\Task;
use PivotPHP\Runtime\RoadRunner\KV\Storage;
use PivotPHP\Runtime\RoadRunner\Metrics\Collector;
use PivotPHP\Runtime\RoadRunner\Metrics\Metrics;
use PivotPHP\Runtime\RoadRunner\Rpc\RpcClient;

require __DIR__ . '/../../php/autoload.php';

const JSON_HEADERS = ['Content-Type' => 'application/json'];
const JSON_FLAGS = JSON_UNESCAPED_SLASHES | JSON_UNESCAPED_UNICODE | JSON_THROW_ON_ERROR;

/** Where digest results go: a storage under `kv:` in .rr.yaml. */
function resultsStorage(): string
{
    return getenv('JOBS_RESULTS_STORAGE') ?: 'results';
}

function defaultPipeline(): string
{
    return getenv('JOBS_PIPELINE') ?: 'default';
}

/** Files the test jobs (record, flaky) write, so a test can check what ran where. */
function stateDir(): string
{
    $dir = getenv('JOBS_STATE_DIR') ?: sys_get_temp_dir() . '/pivotphp-jobs-example';
    foreach (['', '/done', '/holding'] as $sub) {
        if (!is_dir($dir . $sub)) {
            @mkdir($dir . $sub, 0777, true);
        }
    }

    return $dir;
}

function appendLine(string $file, string $line): void
{
    // One write(2) per line with O_APPEND: lines from concurrent workers never interleave.
    file_put_contents($file, $line . "\n", FILE_APPEND);
}

function json(mixed $data): string
{
    return json_encode($data, JSON_FLAGS);
}

/**
 * The app's own metrics, shown next to RoadRunner's on metrics.address. define() sends
 * nothing: each collector is declared in RoadRunner by the first worker that uses it.
 */
function appMetrics(RpcClient $rpc): Metrics
{
    return (new Metrics($rpc))
        ->define(
            'jobs_dispatched_total',
            Collector::counter('Jobs dispatched by the app')->withNamespace('app')->withLabels('pipeline', 'job'),
        )
        ->define(
            'jobs_processed_total',
            Collector::counter('Jobs processed by the app')->withNamespace('app')->withLabels('job', 'outcome'),
        )
        ->define(
            'job_duration_seconds',
            Collector::histogram('Job handler time', [0.001, 0.01, 0.1, 1, 10])
                ->withNamespace('app')
                ->withLabels('job'),
        )
        ->define(
            'kv_value_bytes',
            Collector::gauge('Size of the last value written through /kv')->withNamespace('app'),
        );
}

/** Metrics are nice to have: a failure is logged, never fails the job or the request. */
function measure(Closure $call): void
{
    try {
        $call();
    } catch (RoadRunnerException $e) {
        fwrite(STDERR, 'app metrics: ' . $e->getMessage() . "\n");
    }
}

function runJobs(): void
{
    // The consumer first: Worker::create() installs the output guard before anything can print.
    $consumer = Consumer::create(new RetryPolicy(maxAttempts: 3, delaySeconds: 5));
    $rpc = RpcClient::fromEnvironment();
    $results = new Storage($rpc, resultsStorage());
    $metrics = appMetrics($rpc);

    /** Registers $handler, counted and timed in the app's metrics. */
    $register = static function (
        string $name,
        Closure $handler,
        ?RetryPolicy $retry = null,
    ) use ($consumer, $metrics): void {
        $consumer->register($name, instrumented($name, $handler, $metrics), $retry);
    };

    // The example job: digest a text, store the result in KV for GET /jobs/result/{id}.
    $register('digest', static function (Task $task) use ($results): void {
        $text = $task->json()['text'] ?? null;
        if (!is_string($text)) {
            throw new PermanentFailureException('digest needs {"text": "..."}');
        }
        $results->set('digest:' . $task->id, [
            'id' => $task->id,
            'sha256' => hash('sha256', $text),
            'bytes' => strlen($text),
            'words' => str_word_count($text),
            'worker' => getmypid(),
            'attempt' => $task->attempt,
        ], ttl: 3600);
    });

    // Test job: records each delivery and, once per id, its completion. {"hold_ms": N}
    // parks the worker for N ms first, announcing itself in holding/<pid>, so a test can
    // SIGKILL a worker in the middle of a job.
    $register('record', static function (Task $task): void {
        $dir = stateDir();
        appendLine($dir . '/deliveries.log', sprintf('%s %d %d', $task->id, getmypid(), $task->attempt));
        $hold = (int) ($task->json()['hold_ms'] ?? 0);
        if ($hold > 0) {
            file_put_contents($dir . '/holding/' . getmypid(), $task->id);
            usleep($hold * 1000);
            @unlink($dir . '/holding/' . getmypid());
        }
        // Idempotent: a redelivered job that already completed is not completed again.
        $marker = @fopen($dir . '/done/' . sha1($task->id), 'x');
        if ($marker === false) {
            appendLine($dir . '/duplicates.log', $task->id);

            return;
        }
        fclose($marker);
        appendLine($dir . '/done.log', $task->id);
    });

    // Test job: fails its first {"fail_times": N} attempts, logging when each one ran.
    $register('flaky', static function (Task $task): void {
        appendLine(stateDir() . '/flaky.log', sprintf('%s %d %.6f', $task->id, $task->attempt, microtime(true)));
        $failTimes = (int) ($task->json()['fail_times'] ?? 1);
        if ($task->attempt <= $failTimes) {
            throw new RuntimeException(sprintf('flaky failure %d of %d', $task->attempt, $failTimes));
        }
    }, new RetryPolicy(maxAttempts: 5, delaySeconds: (int) (getenv('JOBS_FLAKY_DELAY') ?: 2)));

    $consumer->run();
}

/** $handler, counted (app_jobs_processed_total) and timed (app_job_duration_seconds). */
function instrumented(string $name, Closure $handler, Metrics $metrics): Closure
{
    return static function (Task $task) use ($name, $handler, $metrics): void {
        $start = hrtime(true);
        $outcome = 'failed';
        try {
            $handler($task);
            $outcome = 'ok';
        } finally {
            measure(static function () use ($metrics, $name, $outcome, $start): void {
                $metrics->add('jobs_processed_total', 1, [$name, $outcome]);
                $metrics->observe('job_duration_seconds', (hrtime(true) - $start) / 1e9, [$name]);
            });
        }
    };
}

function runHttp(): void
{
    $http = HttpWorker::create(); // first: installs the output guard
    $rpc = RpcClient::fromEnvironment();
    $jobs = new Jobs($rpc);
    $metrics = appMetrics($rpc);

    $dispatch = static function (
        string $pipeline,
        string $name,
        array|string $payload,
        array $options,
    ) use ($jobs, $metrics): string {
        $id = $jobs->dispatch($pipeline, $name, $payload, $options);
        measure(static fn () => $metrics->add('jobs_dispatched_total', 1, [$pipeline, $name]));

        return $id;
    };

    while (($request = $http->waitRequest()) !== null) {
        try {
            route($request, $http, $jobs, $rpc, $dispatch, $metrics);
        } catch (InvalidArgumentException $e) {
            $http->respond(400, json(['error' => $e->getMessage()]), JSON_HEADERS);
        } catch (RoadRunnerException $e) {
            // KV or jobs backend trouble (Redis down, unknown pipeline…): say so, keep serving.
            fwrite(STDERR, sprintf("[http %d] %s\n", getmypid(), $e->getMessage()));
            if ($http->worker()->hasPendingRequest()) {
                $http->respond(503, json(['error' => $e->getMessage()]), JSON_HEADERS + ['Retry-After' => '1']);
            }
        } catch (Throwable $e) {
            fwrite(STDERR, sprintf("[http %d] %s: %s\n", getmypid(), $e::class, $e->getMessage()));
            if ($http->worker()->hasPendingRequest()) {
                $http->error($e->getMessage());
            }
        }
    }
}

/** @param Closure(string, string, array|string, array): string $dispatch */
function route(
    Request $request,
    HttpWorker $http,
    Jobs $jobs,
    RpcClient $rpc,
    Closure $dispatch,
    Metrics $metrics,
): void {
    $path = $request->path();
    $method = $request->method;
    $query = $request->query;
    $int = static fn (string $name): int => is_string($query[$name] ?? null) && ctype_digit($query[$name])
        ? (int) $query[$name]
        : 0;

    if ($method === 'GET' && $path === '/') {
        $http->respond(200, json(['ok' => true, 'example' => 'jobs', 'pid' => getmypid()]), JSON_HEADERS);

        return;
    }

    // POST /jobs/digest: the example flow. The body is the text to digest.
    if ($method === 'POST' && $path === '/jobs/digest') {
        $pipeline = is_string($query['pipeline'] ?? null) ? $query['pipeline'] : defaultPipeline();
        $id = $dispatch($pipeline, 'digest', ['text' => $request->body], []);
        $http->respond(
            202,
            json(['id' => $id, 'pipeline' => $pipeline, 'result' => '/jobs/result/' . $id]),
            JSON_HEADERS,
        );

        return;
    }

    if ($method === 'GET' && str_starts_with($path, '/jobs/result/')) {
        $id = rawurldecode(substr($path, strlen('/jobs/result/')));
        $result = (new Storage($rpc, resultsStorage()))->get('digest:' . $id);
        if ($result === null) {
            $http->respond(404, json(['id' => $id, 'status' => 'pending']), JSON_HEADERS);
        } else {
            $http->respond(200, json($result), JSON_HEADERS);
        }

        return;
    }

    // POST /jobs/dispatch?name=&pipeline=&delay=&priority=&id= — any job; a JSON body
    // (Content-Type: application/json) travels as an array, anything else as bytes.
    if ($method === 'POST' && $path === '/jobs/dispatch') {
        $name = is_string($query['name'] ?? null) ? $query['name'] : '';
        $pipeline = is_string($query['pipeline'] ?? null) ? $query['pipeline'] : defaultPipeline();
        $payload = $request->body;
        if (str_starts_with((string) $request->header('Content-Type'), 'application/json')) {
            $payload = json_decode($request->body, true);
            if (!is_array($payload)) {
                throw new InvalidJobException('The JSON body must be an object or an array');
            }
        }
        $options = array_filter(['delay' => $int('delay'), 'priority' => $int('priority')]);
        if (is_string($query['id'] ?? null)) {
            $options['id'] = $query['id'];
        }
        $id = $dispatch($pipeline, $name, $payload, $options);
        $http->respond(202, json(['id' => $id, 'pipeline' => $pipeline, 'name' => $name]), JSON_HEADERS);

        return;
    }

    // Pipeline management: pause/resume, declare (PUT ?driver=memory), destroy (DELETE).
    if (preg_match('#^/jobs/pipelines/([^/]+)(?:/(pause|resume))?$#D', $path, $m) === 1) {
        $name = rawurldecode($m[1]);
        $action = $m[2] ?? '';
        if ($method === 'POST' && $action === 'pause') {
            $jobs->pause($name);
            $http->respond(204, '', []);
        } elseif ($method === 'POST' && $action === 'resume') {
            $jobs->resume($name);
            $http->respond(204, '', []);
        } elseif ($method === 'PUT' && $action === '') {
            $driver = is_string($query['driver'] ?? null) ? $query['driver'] : 'memory';
            $jobs->declare($name, $driver, ['prefetch' => 1000], $int('priority') ?: 10);
            $http->respond(201, json(['declared' => $name, 'driver' => $driver]), JSON_HEADERS);
        } elseif ($method === 'DELETE' && $action === '') {
            $http->respond(200, json(['destroyed' => $jobs->destroy($name)]), JSON_HEADERS);
        } else {
            $http->respond(405, json(['error' => 'POST …/pause|resume, PUT or DELETE']), JSON_HEADERS);
        }

        return;
    }

    if ($method === 'GET' && $path === '/jobs/pipelines') {
        $stats = [];
        foreach ($jobs->stat() as $name => $stat) {
            $stats[$name] = get_object_vars($stat);
        }
        $http->respond(200, json(['pipelines' => $jobs->list(), 'stats' => (object) $stats]), JSON_HEADERS);

        return;
    }

    // /kv/{storage}/{key}: GET (raw value), PUT (?ttl=seconds), DELETE; /kv/{storage}/{key}/ttl.
    if (preg_match('#^/kv/([^/]+)/([^/]+)(/ttl)?$#D', $path, $m) === 1) {
        $storage = new Storage($rpc, rawurldecode($m[1]));
        $key = rawurldecode($m[2]);
        if ($method === 'GET' && ($m[3] ?? '') === '/ttl') {
            $http->respond(
                200,
                json(['key' => $key, 'exists' => $storage->has($key), 'ttl' => $storage->ttl($key)]),
                JSON_HEADERS,
            );
        } elseif ($method === 'GET') {
            $value = $storage->get($key);
            if ($value === null) {
                $http->respond(404, json(['key' => $key, 'error' => 'no such key']), JSON_HEADERS);
            } else {
                $http->respond(200, is_string($value) ? $value : json($value), [
                    'Content-Type' => is_string($value) ? 'application/octet-stream' : 'application/json',
                    'X-Value-Sha256' => hash('sha256', is_string($value) ? $value : json($value)),
                ]);
            }
        } elseif ($method === 'PUT') {
            $ttl = $int('ttl');
            $storage->set($key, $request->body, $ttl > 0 ? $ttl : null);
            measure(static fn () => $metrics->set('kv_value_bytes', strlen($request->body)));
            $http->respond(204, '', []);
        } elseif ($method === 'DELETE') {
            $storage->delete($key);
            $http->respond(204, '', []);
        } else {
            $http->respond(405, json(['error' => 'GET, PUT or DELETE']), JSON_HEADERS);
        }

        return;
    }

    $http->respond(404, json(['error' => 'not found', 'path' => $path]), JSON_HEADERS);
}

if (getenv('RR_MODE') === 'jobs') {
    runJobs();
} else {
    runHttp();
}
