<?php

/**
 * A PivotPHP application in RoadRunner workers: booted once per worker, then serving requests
 * until RoadRunner (or the runtime's WorkerManager) replaces the worker.
 *
 *   composer install --no-dev        # in examples/pivotphp
 *   ./rr serve -c examples/pivotphp/.rr.yaml
 *
 * Without Composer (e.g. to try a core checked out elsewhere): PIVOTPHP_AUTOLOAD=<core's
 * vendor/autoload.php> and this repository's php/autoload.php are used instead.
 */

declare(strict_types=1);

use PivotPHP\Core\Core\Application;
use PivotPHP\Runtime\RoadRunner\PivotPHP\RoadRunnerAdapter;

if (is_file(__DIR__ . '/vendor/autoload.php')) {
    require __DIR__ . '/vendor/autoload.php';
} elseif (is_string($core = getenv('PIVOTPHP_AUTOLOAD')) && is_file($core)) {
    require __DIR__ . '/../../php/autoload.php';
    require $core;
} else {
    fwrite(STDERR, "examples/pivotphp/worker.php: run `composer install --no-dev` in examples/pivotphp"
        . " (or set PIVOTPHP_AUTOLOAD to an installed pivotphp/core's vendor/autoload.php)\n");
    exit(1);
}

// First, before the application exists: from here on only frames reach STDOUT.
$adapter = new RoadRunnerAdapter();

$app = new Application(__DIR__);

// Global middleware (PivotPHP runs it for matched routes).
$app->use(function ($req, $res, $next) {
    $res->header('X-Powered-By-Runtime', 'pivotphp-roadrunner');

    return $next($req, $res);
});

$app->get('/', fn ($req, $res) => $res->json([
    'ok' => true,
    'framework' => 'PivotPHP ' . Application::VERSION,
    'pid' => getmypid(),
]));

$app->get('/hello/:name', fn ($req, $res) => $res->json([
    'hello' => $req->param('name'),
    'lang' => $req->get('lang', 'en'),
    'agent' => $req->header('userAgent'),
]));

// JSON bodies arrive as $req->body, as under PHP-FPM.
$app->post('/echo', fn ($req, $res) => $res->status(201)->json(['received' => $req->body]));

$app->get('/text', fn ($req, $res) => $res->text('Hello from a long-running PivotPHP worker'));

// Server-sent events: captured and sent when the handler returns (not streamed live).
$app->get('/events', function ($req, $res) {
    $res->startStream('text/event-stream');
    foreach (['boot', 'serve', 'recycle'] as $i => $stage) {
        $res->sendEvent(['stage' => $stage], 'lifecycle', (string) $i);
    }
    $res->endStream();

    return $res;
});

// The worker's own figures (requests, memory, gc, recycling) for dashboards and probes.
$app->get('/worker', fn ($req, $res) => $res->json($adapter->manager()->metrics()));

$app->get('/boom', function () {
    throw new RuntimeException('handled by PivotPHP: 500 with an error_id, the worker keeps serving');
});

// The application's own per-request state goes back to zero after every request.
$adapter->onReset(static function (): void {
    // e.g. MyRequestCache::flush(); $entityManager->clear();
});

// [] = settings from the environment (PIVOT_MAX_REQUESTS, PIVOT_MEMORY_LIMIT, PIVOT_TTL,
// PIVOT_GC_THRESHOLD, PIVOT_DEBUG), else production defaults; keys given here win.
$adapter->serve($app, []);
