<?php

declare(strict_types=1);

// Worker for the Go lifecycle tests: routes that sleep (and then answer, fail, exit or decline
// the request), leak memory or report the pid, and a mode (env PIVOT_TEST_MODE) that makes the
// worker die right after its handshake, to produce a crash loop. The tests break and repair
// the script that requires this file.

require __DIR__ . '/../../../php/autoload.php';

use PivotPHP\Runtime\RoadRunner\Goridge\Frame;
use PivotPHP\Runtime\RoadRunner\Http\HttpWorker;
use PivotPHP\Runtime\RoadRunner\Relay\StreamRelay;

$dieFlag = getenv('PIVOT_TEST_DIE_FLAG');
if ($dieFlag !== false && is_file($dieFlag)) {
    // answer the pid handshake, then die: the pool sees workers that start and vanish
    $relay = StreamRelay::fromStdio();
    $relay->receive();
    $relay->send(new Frame(json_encode(['pid' => getmypid()]), [], Frame::CONTROL));
    usleep(50_000);
    exit(1);
}

if (($delay = (int) getenv('PIVOT_TEST_BOOT_DELAY_MS')) > 0) {
    usleep($delay * 1000);
}

$leaked = [];
$worker = HttpWorker::create();
while ($request = $worker->waitRequest()) {
    $path = $request->path();
    $query = $request->query;
    switch ($path) {
        case '/sleep':
            usleep(((int) ($query['ms'] ?? 0)) * 1000);
            switch ($query['then'] ?? '') {
                case 'error':
                    $worker->error('failed after sleeping'); // RoadRunner answers 500, keeps the worker
                    continue 3;
                case 'exit':
                    exit(1);
                case 'respond-exit':
                    // answer, then leave without reading the next request (a script that
                    // recycles itself by leaving its loop)
                    $worker->respond(200, json_encode(['pid' => getmypid()]), ['Content-Type' => 'application/json']);
                    exit(0);
                case 'stop':
                    // "restart me and re-run this request elsewhere"; with once=FILE only the
                    // first time, so that the re-run is served
                    $once = $query['once'] ?? null;
                    if (!is_string($once) || @fopen($once, 'x') !== false) {
                        $worker->worker()->stop();
                        continue 3;
                    }
                    break;
            }
            $worker->respond(200, json_encode(['pid' => getmypid()]), ['Content-Type' => 'application/json']);
            break;
        case '/leak':
            // keep the memory referenced so the worker's RSS grows
            $leaked[] = str_repeat('x', ((int) ($query['mb'] ?? 1)) * 1024 * 1024);
            $worker->respond(200, json_encode(['pid' => getmypid(), 'held_mb' => count($leaked)]), ['Content-Type' => 'application/json']);
            break;
        default:
            $worker->respond(200, json_encode(['pid' => getmypid()]), ['Content-Type' => 'application/json']);
    }
}
