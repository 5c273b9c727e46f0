<?php

/**
 * The PHP worker of the hostile-RPC tests (tests/e2e): one script for both pools.
 *
 *   RR_MODE=jobs  acknowledges every job (an empty response body is an ack)
 *   otherwise     pivot's HTTP worker: every request gets 200 "ok"
 */

declare(strict_types=1);

use PivotPHP\Runtime\RoadRunner\Http\HttpWorker;
use PivotPHP\Runtime\RoadRunner\Worker;

require __DIR__ . '/../../../php/autoload.php';

$worker = Worker::create();

if (getenv('RR_MODE') === 'jobs') {
    while ($worker->waitPayload() !== null) {
        $worker->respondWith('', '');
    }

    return;
}

$http = HttpWorker::create($worker);
while ($http->waitRequest() !== null) {
    $http->respond(200, 'ok', ['Content-Type' => 'text/plain']);
}
