<?php

/**
 * A PivotPHP application in RoadRunner workers: booted once per worker, then serving requests
 * until RoadRunner (or the runtime's WorkerManager) replaces the worker. Any core from 1.1 to 5.x:
 * the 4.x/5.x style app (app5.php) or the 1.x-3.x one (app.php), whichever fits the installed core.
 *
 *   composer install --no-dev        # in examples/pivotphp
 *   ./rr serve -c examples/pivotphp/.rr.yaml
 *
 * Without Composer (e.g. to try a core checked out elsewhere): PIVOTPHP_AUTOLOAD=<core's
 * vendor/autoload.php> and this repository's php/autoload.php are used instead.
 */

declare(strict_types=1);

use PivotPHP\Core\Core\Application;
use PivotPHP\Runtime\RoadRunner\PivotPHP\CoreLine;
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

// The jobs plugin's workers run this script too (RR_MODE=jobs): they consume the app's jobs.
if (getenv('RR_MODE') === 'jobs') {
    require __DIR__ . '/services.php';
    App\Services::consume();
    exit(0);
}

// First, before the application exists: from here on only frames reach STDOUT.
$adapter = new RoadRunnerAdapter();

$app = new Application(__DIR__);

// The middleware and routes, shared with the PHP-FPM front controller public/index.php: app5.php in
// the style of core 4.x/5.x, app.php in that of 1.x-3.x. The adapter picks its path the same way.
(require __DIR__ . (CoreLine::of($app)->isPsr15() ? '/app5.php' : '/app.php'))($app);

// The worker's own figures (requests, memory, gc, recycling) for dashboards and probes.
$app->get('/worker', fn ($req, $res) => $res->json($adapter->manager()->metrics()));

// The application's own per-request state goes back to zero after every request.
$adapter->onReset(static function (): void {
    // e.g. MyRequestCache::flush(); $entityManager->clear();
});

// [] = settings from the environment (PIVOT_MAX_REQUESTS, PIVOT_MEMORY_LIMIT, PIVOT_TTL,
// PIVOT_GC_THRESHOLD, PIVOT_DEBUG), else production defaults; keys given here win.
$adapter->serve($app, []);
