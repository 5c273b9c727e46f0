<?php

declare(strict_types=1);

// Worker for the pivot.limit and pivot.breaker tests: every request it gets appends a line (its
// path) to the file in PIVOT_TEST_HITS, so a test counts what reached PHP. /flaky answers 500
// while the file in PIVOT_TEST_FAIL_FLAG exists, 200 otherwise; /sleep?ms=N sleeps first;
// anything else answers 200 "ok".

require __DIR__ . '/../../../php/autoload.php';

use PivotPHP\Runtime\RoadRunner\Http\HttpWorker;

$hits = getenv('PIVOT_TEST_HITS');
$failFlag = getenv('PIVOT_TEST_FAIL_FLAG');

$worker = HttpWorker::create();
while ($request = $worker->waitRequest()) {
    $path = $request->path();
    if (is_string($hits) && $hits !== '') {
        file_put_contents($hits, $path . "\n", FILE_APPEND | LOCK_EX);
    }
    switch ($path) {
        case '/flaky':
            clearstatcache();
            $failing = is_string($failFlag) && $failFlag !== '' && is_file($failFlag);
            $worker->respond($failing ? 500 : 200, $failing ? 'failing' : 'ok', ['Content-Type' => 'text/plain']);
            break;
        case '/sleep':
            usleep(((int) ($request->query['ms'] ?? 0)) * 1000);
            $worker->respond(200, 'slept', ['Content-Type' => 'text/plain']);
            break;
        default:
            $worker->respond(200, 'ok', ['Content-Type' => 'text/plain', 'X-Path' => $path]);
    }
}
