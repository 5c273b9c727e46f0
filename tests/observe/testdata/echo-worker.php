<?php

declare(strict_types=1);

// Worker for tests/observe: answers what it was given to identify the request — its id as
// $_SERVER['REQUEST_ID'] (the Lifecycle superglobals) and as the X-Request-Id header, the
// traceparent/tracestate a PHP tracer would join, and the worker's pid. /sleep?ms=N sleeps
// first; /stream answers in three chunks; /fail answers 500.

require __DIR__ . '/../../../php/autoload.php';

use PivotPHP\Runtime\RoadRunner\Http\HttpWorker;
use PivotPHP\Runtime\RoadRunner\Lifecycle\Superglobals;

$worker = HttpWorker::create();
while ($request = $worker->waitRequest()) {
    $server = Superglobals::serverParams($request);
    $ms = (int) ($request->query['ms'] ?? 0);
    if ($ms > 0) {
        usleep($ms * 1000);
    }
    $answer = json_encode([
        'request_id' => $server['REQUEST_ID'] ?? null,
        'header_id' => $request->header('X-Request-Id'),
        'traceparent' => $request->header('traceparent'),
        'tracestate' => $request->header('tracestate'),
        'pid' => getmypid(),
        'path' => $request->path(),
    ], JSON_THROW_ON_ERROR | JSON_UNESCAPED_SLASHES);
    $headers = ['Content-Type' => 'application/json'];
    switch ($request->path()) {
        case '/stream':
            $worker->respondStream(200, [$answer, "\n", str_repeat('x', 1000)], $headers);
            break;
        case '/fail':
            $worker->respond(500, $answer, $headers);
            break;
        default:
            $worker->respond(200, $answer, $headers);
    }
}
