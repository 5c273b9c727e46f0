<?php

/**
 * The worker of the feature request's .rr.yaml (tests/featurerequest). RR_MODE says which role:
 *
 *   http  GET  /version            the text routes/web.php returned when this worker booted
 *         GET  /big                a large text/plain body (the gzip middleware compresses it)
 *         POST /jobs/{pipeline}    dispatches a "record" job with the body as payload
 *         PUT  /kv/{storage}/{key} stores the body; GET reads it back
 *         GET  /metric             adds 1 to app_metric_hits_total
 *   jobs  records every task as state/done/{pipeline}/{payload}
 */

declare(strict_types=1);

use PivotPHP\Runtime\RoadRunner\Http\HttpWorker;
use PivotPHP\Runtime\RoadRunner\Jobs\Consumer;
use PivotPHP\Runtime\RoadRunner\Jobs\Jobs;
use PivotPHP\Runtime\RoadRunner\Jobs\Task;
use PivotPHP\Runtime\RoadRunner\KV\RawValueCodec;
use PivotPHP\Runtime\RoadRunner\KV\Storage;
use PivotPHP\Runtime\RoadRunner\Metrics\Collector;
use PivotPHP\Runtime\RoadRunner\Metrics\Metrics;
use PivotPHP\Runtime\RoadRunner\Rpc\RpcClient;

$autoload = getenv('PIVOT_PHP_AUTOLOAD');
require is_string($autoload) && $autoload !== '' ? $autoload : __DIR__ . '/../../../php/autoload.php';
require __DIR__ . '/app/Greeting.php';

$stateDir = getcwd() . '/state';

if (getenv('RR_MODE') === 'jobs') {
    Consumer::create()
        ->register('record', static function (Task $task) use ($stateDir): void {
            $dir = $stateDir . '/done/' . $task->pipeline;
            if (!is_dir($dir)) {
                @mkdir($dir, 0777, true);
            }
            file_put_contents($dir . '/' . basename($task->payload), $task->id . "\n", FILE_APPEND);
        })
        ->run();

    return;
}

$version = require __DIR__ . '/routes/web.php';
$rpc = RpcClient::fromEnvironment();
$jobs = new Jobs($rpc);
$metrics = (new Metrics($rpc))->define('app_metric_hits_total', Collector::counter('Hits of GET /metric.'));
$worker = HttpWorker::create();

while ($request = $worker->waitRequest()) {
    try {
        $path = $request->path();
        if ($request->method === 'GET' && $path === '/version') {
            $worker->respond(200, $version, ['Content-Type' => 'text/plain']);
        } elseif ($request->method === 'GET' && $path === '/big') {
            $worker->respond(200, Greeting::big(), ['Content-Type' => 'text/plain']);
        } elseif ($request->method === 'POST' && preg_match('#^/jobs/([a-z_]+)$#', $path, $m)) {
            $id = $jobs->dispatch($m[1], 'record', $request->body);
            $worker->respond(200, $id, ['Content-Type' => 'text/plain']);
        } elseif (preg_match('#^/kv/([a-z]+)/([A-Za-z0-9_-]+)$#', $path, $m)) {
            $storage = new Storage($rpc, $m[1], new RawValueCodec());
            if ($request->method === 'PUT') {
                $storage->set($m[2], $request->body);
                $worker->respond(204);
            } else {
                $value = $storage->get($m[2]);
                $worker->respond($value === null ? 404 : 200, (string) $value);
            }
        } elseif ($request->method === 'GET' && $path === '/metric') {
            $metrics->add('app_metric_hits_total', 1);
            $worker->respond(200, 'counted');
        } else {
            $worker->respond(404, 'not found: ' . $path);
        }
    } catch (\Throwable $e) {
        fwrite(STDERR, $e . "\n");
        $worker->respond(500, $e->getMessage());
    }
}
