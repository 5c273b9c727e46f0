<?php

/**
 * The default example: a plain HttpWorker loop with a tiny router.
 *
 *     rr serve   (server.command: "php examples/hello/worker.php")
 *
 * The Go integration tests assert these routes byte for byte; see README.md next to this file.
 */

declare(strict_types=1);

use PivotPHP\Runtime\RoadRunner\Http\HttpWorker;
use PivotPHP\Runtime\RoadRunner\Http\Request;

require __DIR__ . '/../../php/autoload.php';

const JSON_HEADERS = ['Content-Type' => 'application/json'];
const JSON_FLAGS = JSON_UNESCAPED_SLASHES | JSON_UNESCAPED_UNICODE | JSON_THROW_ON_ERROR;
const MAX_BYTES = 52428800; // 50 MiB

function json(mixed $data): string
{
    return json_encode($data, JSON_FLAGS);
}

/** PHP's empty array would encode as `[]`; maps must stay `{}`. */
function object(?array $map): array|stdClass|null
{
    return $map === [] ? new stdClass() : $map;
}

/** A non-negative integer query parameter; null when absent or not a plain number. */
function intQuery(Request $request, string $name): ?int
{
    $value = $request->query[$name] ?? null;

    return is_string($value) && ctype_digit($value) && strlen($value) < 10 ? (int) $value : null;
}

/** Upload tree → the same tree whose leaves describe each file and hash its content. */
function describeUploads(array $tree): array|stdClass
{
    $result = [];
    foreach ($tree as $key => $node) {
        if (!is_array($node)) {
            continue;
        }
        if (isset($node['name']) && is_string($node['name']) && array_key_exists('error', $node)) {
            $ok = $node['error'] === 0 && is_string($node['tmpName'] ?? null) && is_file($node['tmpName']);
            $result[$key] = [
                'name' => $node['name'],
                'mime' => $node['mime'] ?? null,
                'size' => $node['size'] ?? null,
                'error' => $node['error'],
                'sha256' => $ok ? hash_file('sha256', $node['tmpName']) : null,
            ];
        } else {
            $result[$key] = describeUploads($node);
        }
    }

    return object($result);
}

/** @var array<string, Closure(Request, HttpWorker): void> keyed by "METHOD /path" */
$routes = [
    'GET /' => static function (Request $request, HttpWorker $http): void {
        $body = json(['ok' => true, 'runtime' => 'pivotphp-runtime-roadrunner', 'pid' => getmypid()]);
        $http->respond(200, $body, JSON_HEADERS);
    },
    'GET /hello' => static function (Request $request, HttpWorker $http): void {
        $http->respond(200, 'Hello, World!', ['Content-Type' => 'text/plain']);
    },
    'GET /query' => static function (Request $request, HttpWorker $http): void {
        $http->respond(200, json(['query' => object($request->query), 'rawQuery' => $request->rawQuery]), JSON_HEADERS);
    },
    'GET /headers' => static function (Request $request, HttpWorker $http): void {
        $http->respond(200, json(['headers' => object($request->headers), 'host' => $request->host()]), JSON_HEADERS);
    },
    'GET /cookies' => static function (Request $request, HttpWorker $http): void {
        $http->respond(200, json(['cookies' => object($request->cookies)]), JSON_HEADERS + [
            'Set-Cookie' => ['a=1; Path=/', 'b=2; Path=/; HttpOnly'],
        ]);
    },
    'POST /json' => static function (Request $request, HttpWorker $http): void {
        // Decoded as objects so that `{}` and `[]` come back exactly as sent.
        $data = json_decode($request->body);
        if (json_last_error() !== JSON_ERROR_NONE) {
            $http->respond(400, json(['error' => 'invalid JSON: ' . json_last_error_msg()]), JSON_HEADERS);

            return;
        }
        $http->respond(200, json(['json' => $data]), JSON_HEADERS);
    },
    'POST /form' => static function (Request $request, HttpWorker $http): void {
        $http->respond(200, json(['parsed' => $request->parsed, 'form' => object($request->parsedBody)]), JSON_HEADERS);
    },
    'POST /upload' => static function (Request $request, HttpWorker $http): void {
        $http->respond(200, json([
            'form' => object($request->parsedBody),
            'files' => $request->uploads === null ? null : describeUploads($request->uploads),
        ]), JSON_HEADERS);
    },
    'GET /stream' => static function (Request $request, HttpWorker $http): void {
        $count = min(intQuery($request, 'chunks') ?? 3, 100000);
        $delayMs = min(intQuery($request, 'delay_ms') ?? 0, 60000);
        $chunks = static function () use ($count, $delayMs): Generator {
            for ($i = 0; $i < $count; $i++) {
                if ($i > 0 && $delayMs > 0) {
                    usleep($delayMs * 1000);
                }
                yield "chunk $i\n";
            }
        };
        $http->respondStream(200, $chunks(), ['Content-Type' => 'text/plain']);
    },
    'GET /bytes' => static function (Request $request, HttpWorker $http): void {
        $size = isset($request->query['size']) ? intQuery($request, 'size') : 1024;
        if ($size === null || $size > MAX_BYTES) {
            $http->respond(400, json(['error' => 'size must be an integer between 0 and ' . MAX_BYTES]), JSON_HEADERS);

            return;
        }
        $http->respond(200, str_repeat('x', $size), ['Content-Type' => 'application/octet-stream']);
    },
    'POST /echo' => static function (Request $request, HttpWorker $http): void {
        $http->respond(200, $request->body, [
            'Content-Type' => 'application/octet-stream',
            'X-Body-Sha256' => hash('sha256', $request->body),
        ]);
    },
    'GET /pid' => static function (Request $request, HttpWorker $http): void {
        $http->respond(200, json(['pid' => getmypid()]), JSON_HEADERS);
    },
    'GET /sleep' => static function (Request $request, HttpWorker $http): void {
        $ms = intQuery($request, 'ms') ?? 0;
        usleep($ms * 1000);
        $http->respond(200, json(['slept' => $ms]), JSON_HEADERS);
    },
    'GET /error' => static function (): void {
        throw new RuntimeException('boom');
    },
    'GET /exit' => static function (): void {
        exit(1);
    },
    'GET /garbage' => static function (Request $request, HttpWorker $http): void {
        // Deliberately bypasses the output guard: RoadRunner must notice and replace us.
        fwrite(STDOUT, "this is not a goridge frame\n");
        $http->respond(200, json(['ok' => true]), JSON_HEADERS);
    },
    'GET /echo-output' => static function (Request $request, HttpWorker $http): void {
        echo "stray output\n"; // the output guard sends this to STDERR
        $http->respond(200, json(['ok' => true]), JSON_HEADERS);
    },
];

$statusRoute = static function (string $code, HttpWorker $http): void {
    $status = ctype_digit($code) && strlen($code) === 3 ? (int) $code : 0;
    if ($status < 100 || $status > 599) {
        $http->respond(400, json(['error' => 'status must be within 100-599']), JSON_HEADERS);

        return;
    }
    if ($status < 200 || $status === 204 || $status === 304) {
        $http->respond($status); // these statuses have no body

        return;
    }
    $http->respond($status, json(['status' => $status]), JSON_HEADERS);
};

$http = HttpWorker::create();
$worker = $http->worker();

while (($request = $http->waitRequest()) !== null) {
    try {
        $path = $request->path();
        // HEAD is a GET without a body; the HTTP server drops the body.
        $method = $request->method === 'HEAD' ? 'GET' : $request->method;
        $route = $routes[$method . ' ' . $path] ?? null;

        if ($route !== null) {
            $route($request, $http);
        } elseif ($method === 'GET' && str_starts_with($path, '/status/')) {
            $statusRoute(substr($path, 8), $http);
        } else {
            $http->respond(404, json(['error' => 'not found', 'path' => $path]), JSON_HEADERS);
        }
    } catch (Throwable $e) {
        fwrite(STDERR, sprintf("[worker %d] %s: %s\n", getmypid(), $e::class, $e->getMessage()));
        if ($worker->hasPendingRequest()) {
            $http->error($e->getMessage()); // RoadRunner answers 500 and keeps this worker
        }
    }
}
