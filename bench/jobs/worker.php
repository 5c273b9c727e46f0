<?php

/**
 * The PHP side of bench's jobs section (bench/jobs.go): one script for rr's HTTP workers
 * (pivot) and its jobs workers (RR_MODE=jobs).
 *
 *   GET /ping                    "pong"
 *   GET /push?pipeline=P&n=N[&name=J&payload=X]
 *                                N × jobs.Push (Jobs::push, one job per RPC call), serially, of
 *                                job J (default "noop"); JSON {"n", "seconds"}; 500 on failure
 *   GET /rpc?n=N                 N × jobs.List: the RPC round trip from PHP without a push
 *   GET /mark?pipeline=P&file=F  pushes one "mark" job at priority 100 (after every other)
 *   jobs                         a Consumer (no journal, no attempt store): "noop" does nothing,
 *                                "sleep" sleeps its payload in µs, "mark" writes its payload's file:
 *                                the backlog before it is done
 */

declare(strict_types=1);

use PivotPHP\Runtime\RoadRunner\Http\HttpWorker;
use PivotPHP\Runtime\RoadRunner\Jobs\Consumer;
use PivotPHP\Runtime\RoadRunner\Jobs\Job;
use PivotPHP\Runtime\RoadRunner\Jobs\Jobs;
use PivotPHP\Runtime\RoadRunner\Jobs\Task;
use PivotPHP\Runtime\RoadRunner\Rpc\RpcClient;
use PivotPHP\Runtime\RoadRunner\Worker;

require __DIR__ . '/../../php/autoload.php';

if (getenv('RR_MODE') === 'jobs') {
    (new Consumer(Worker::create()))
        ->register('noop', static function (): void {
        })
        ->register('sleep', static function (Task $task): void {
            usleep((int) $task->payload);
        })
        ->register('mark', static function (Task $task): void {
            file_put_contents($task->payload, sprintf('%.6f', microtime(true)));
        })
        ->serve();

    return;
}

$rpc = RpcClient::fromEnvironment();
$jobs = new Jobs($rpc);
$worker = HttpWorker::create();

while ($request = $worker->waitRequest()) {
    try {
        $n = max(1, (int) ($request->query['n'] ?? 1));
        switch ($request->path()) {
            case '/ping':
                $worker->respond(200, 'pong');
                break;
            case '/push':
                $pipeline = (string) ($request->query['pipeline'] ?? 'bench');
                $name = (string) ($request->query['name'] ?? 'noop');
                $payload = (string) ($request->query['payload'] ?? 'x');
                $start = microtime(true);
                for ($i = 0; $i < $n; $i++) {
                    $jobs->push(new Job($pipeline, $name, $payload));
                }
                $worker->respond(200, json_encode(['n' => $n, 'seconds' => microtime(true) - $start]));
                break;
            case '/mark':
                $jobs->push(new Job((string) $request->query['pipeline'], 'mark', (string) $request->query['file'], ['priority' => 100]));
                $worker->respond(200, json_encode(['n' => 1, 'seconds' => 1e-9]));
                break;
            case '/rpc':
                $start = microtime(true);
                for ($i = 0; $i < $n; $i++) {
                    $rpc->call('jobs.List');
                }
                $worker->respond(200, json_encode(['n' => $n, 'seconds' => microtime(true) - $start]));
                break;
            default:
                $worker->respond(404, 'not found');
        }
    } catch (\Throwable $e) {
        $worker->respond(500, $e::class . ': ' . $e->getMessage());
    }
}
