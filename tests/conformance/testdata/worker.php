<?php

/**
 * The conformance suite's worker: it answers every request with what it received, as JSON, and
 * appends one line per request to $CONFORMANCE_LOG, so that the suite can tell which requests
 * reached PHP (a smuggled one included) even when their response never reached the client.
 *
 *     php worker.php <server>    (<server> is "pivot" or "stock": it tags the log lines)
 *
 * Routes (anything else: the echo):
 *   GET /_/app-1xx        answers 103 as its final response (the server must not pass it on as final)
 *   GET /_/split?v=..     answers 200 with the header X-Split set to the decoded v (CR/LF included)
 *   GET /_/split-name?v=..  the same with v as a header name
 */

declare(strict_types=1);

use PivotPHP\Runtime\RoadRunner\Http\HttpWorker;
use PivotPHP\Runtime\RoadRunner\Http\Request;

require __DIR__ . '/../../../php/autoload.php';

const FLAGS = JSON_UNESCAPED_SLASHES | JSON_INVALID_UTF8_SUBSTITUTE | JSON_PARTIAL_OUTPUT_ON_ERROR;

$server = $argv[1] ?? 'unknown';
$logFile = getenv('CONFORMANCE_LOG') ?: '';
$pid = getmypid();
$n = 0;

function logLine(string $file, array $record): void
{
    if ($file === '') {
        return;
    }
    // one write per line with O_APPEND: lines from concurrent workers do not interleave
    $fh = fopen($file, 'ab');
    if ($fh === false) {
        return;
    }
    flock($fh, LOCK_EX);
    fwrite($fh, json_encode($record, FLAGS) . "\n");
    flock($fh, LOCK_UN);
    fclose($fh);
}

/** Whether any header name or value holds a byte HTTP forbids there (NUL, CR, LF, other CTLs but HTAB). */
function badHeaderBytes(array $headers): bool
{
    foreach ($headers as $name => $values) {
        if (preg_match('/[\x00-\x20\x7f()<>@,;:\\\\"\/\[\]?={}]/', (string) $name) === 1) {
            return true;
        }
        foreach ($values as $v) {
            if (preg_match('/[\x00-\x08\x0a-\x1f\x7f]/', (string) $v) === 1) {
                return true;
            }
        }
    }

    return false;
}

logLine($logFile, ['event' => 'start', 'server' => $server, 'pid' => $pid]);

$http = HttpWorker::create();
$worker = $http->worker();

while (($request = $http->waitRequest()) !== null) {
    $n++;
    try {
        $path = $request->path();
        $probe = $request->header('X-Probe') ?? '';
        $record = [
            'event' => 'request',
            'server' => $server,
            'pid' => $pid,
            'n' => $n,
            'method' => $request->method,
            'uri' => substr($request->uri, 0, 1024),
            'path' => substr($path, 0, 1024),
            'protocol' => $request->protocol,
            'probe' => substr($probe, 0, 128),
            'host' => substr($request->host(), 0, 256),
            'headerCount' => count($request->headers),
            'badHeaderBytes' => badHeaderBytes($request->headers),
            'bodyLen' => strlen($request->body),
        ];
        logLine($logFile, $record);

        if ($request->method === 'GET' && $path === '/_/app-1xx') {
            $http->respond(103, '', ['Link' => '</style.css>; rel=preload']);
            continue;
        }
        if ($request->method === 'GET' && $path === '/_/split') {
            $http->respond(200, 'split', ['Content-Type' => 'text/plain', 'X-Split' => (string) ($request->query['v'] ?? '')]);
            continue;
        }
        if ($request->method === 'GET' && $path === '/_/split-name') {
            $http->respond(200, 'split', ['Content-Type' => 'text/plain', (string) ($request->query['v'] ?? 'X') => 'v']);
            continue;
        }

        $echo = $record;
        unset($echo['event']);
        // headers as received, unless there are many (the CPU probes send tens of thousands)
        $echo['headers'] = count($request->headers) <= 64 ? (object) $request->headers : null;
        $echo['body'] = substr($request->body, 0, 256);
        $http->respond(200, json_encode($echo, FLAGS), ['Content-Type' => 'application/json']);
    } catch (Throwable $e) {
        fwrite(STDERR, sprintf("[conformance worker %d] %s: %s\n", $pid, $e::class, $e->getMessage()));
        if ($worker->hasPendingRequest()) {
            $http->error($e->getMessage());
        }
    }
}
