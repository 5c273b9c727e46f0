<?php

declare(strict_types=1);

// Worker for tests/edge's headers tests: every request it gets appends "METHOD path server" to
// the file in PIVOT_TEST_HITS (server: the X-Edge-Server header the config's `request` adds) (so a test sees that a preflight never reached PHP) and is answered
// with the request's headers and body as JSON (so a test sees the headers pivot.headers.request
// added, and that the body still came).
// /stream answers the same JSON in three streamed chunks; /php-cors sets its own
// Access-Control-Allow-Origin and Vary.

require __DIR__ . '/../../../php/autoload.php';

use PivotPHP\Runtime\RoadRunner\Http\HttpWorker;

$hits = getenv('PIVOT_TEST_HITS');

$worker = HttpWorker::create();
while ($request = $worker->waitRequest()) {
    $path = $request->path();
    if (is_string($hits) && $hits !== '') {
        $server = $request->header('X-Edge-Server') ?? '-';
        file_put_contents($hits, $request->method . ' ' . $path . ' ' . $server . "\n", FILE_APPEND | LOCK_EX);
    }
    $json = json_encode(['method' => $request->method, 'headers' => $request->headers, 'body' => $request->body], JSON_THROW_ON_ERROR);
    $headers = ['Content-Type' => 'application/json', 'X-Total-Count' => '3'];
    switch ($path) {
        case '/stream':
            $worker->respondStream(200, str_split($json, intdiv(strlen($json), 3) + 1), $headers);
            break;
        case '/php-cors':
            $worker->respond(200, $json, $headers + ['Access-Control-Allow-Origin' => '*', 'Vary' => 'Accept-Language']);
            break;
        default:
            $worker->respond(200, $json, $headers);
    }
}
