<?php

/**
 * The worker of tests/observe: it writes to STDERR through Log\StderrLogger (JSON lines) and
 * plainly, so the tests can check how pivot logs each line and which request it ties it to.
 */

declare(strict_types=1);

use PivotPHP\Runtime\RoadRunner\Http\HttpWorker;
use PivotPHP\Runtime\RoadRunner\Log\StderrLogger;

require __DIR__ . '/../../../php/autoload.php';

$http = HttpWorker::create();
$log = new StderrLogger();

while (($request = $http->waitRequest()) !== null) {
    $id = $request->header('X-Request-Id') ?? '';
    $q = $request->query;
    switch ($request->path()) {
        case '/log':
            // the mark is the id the request was sent with: pivot's own request_id must match it
            $log->warning('json line {n}', ['n' => 1, 'mark' => $id]);
            usleep(random_int(0, 2000));
            fwrite(STDERR, "plain line for $id\n");
            $log->info('json line {n}', ['n' => 2, 'mark' => $id, 'nested' => ['ok' => true]]);
            $http->respond(200, (string) getmypid());
            break;
        case '/big':
            fwrite(STDERR, str_repeat('x', 100000) . "\n");
            $http->respond(200, 'big');
            break;
        case '/flood':
            $line = str_repeat('f', 99) . "\n";
            for ($i = 0; $i < 50000; $i++) {
                fwrite(STDERR, $line);
            }
            $http->respond(200, 'flooded');
            break;
        case '/fail':
            $log->error('the database is gone', ['mark' => $id]);
            $http->respond(500, 'failed');
            break;
        case '/fatal':
            // an uncaught error: PHP writes it to STDERR and the worker dies mid-request
            fwrite(STDERR, "about to fail\n");
            undefined_function_for_the_test();
            break;
        case '/sleep':
            usleep(min((int) ($q['ms'] ?? 5), 1000) * 1000);
            $http->respond(200, (string) getmypid());
            break;
        case '/grow':
            // keeps memory for the life of the worker (the memory timeline test)
            $GLOBALS['keep'][] = str_repeat('m', 8 << 20);
            $http->respond(200, (string) getmypid());
            break;
        default:
            $http->respond(200, (string) getmypid());
    }
}
