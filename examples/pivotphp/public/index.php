<?php

/**
 * The same application (../app5.php on core 4.x/5.x, ../app.php on 1.x-3.x) the classic way: PHP-FPM runs this front controller for every
 * request, so the framework is loaded and the app built per request. `make bench` measures it
 * behind nginx as the baseline of the RoadRunner worker (../worker.php).
 *
 * nginx: every path to this script (fastcgi_param SCRIPT_FILENAME .../public/index.php).
 */

declare(strict_types=1);

use PivotPHP\Core\Core\Application;

if (is_file(__DIR__ . '/../vendor/autoload.php')) {
    require __DIR__ . '/../vendor/autoload.php';
} elseif (is_string($core = getenv('PIVOTPHP_AUTOLOAD')) && is_file($core)) {
    require __DIR__ . '/../../../php/autoload.php'; // the KV and jobs clients (services.php)
    require $core;
} else {
    http_response_code(500);
    header('Content-Type: text/plain');
    echo "examples/pivotphp/public/index.php: run `composer install --no-dev` in examples/pivotphp"
        . " (or give php-fpm PIVOTPHP_AUTOLOAD, an installed pivotphp/core's vendor/autoload.php)\n";
    exit;
}

$app = new Application(dirname(__DIR__));

if (version_compare(Application::VERSION, '4.0.0', '>=')) {
    // 4.x/5.x: run() = handle() on the request from the globals, emitted once by the SAPI emitter.
    (require __DIR__ . '/../app5.php')($app, 'php-fpm');
    $app->run();

    return;
}

(require __DIR__ . '/../app.php')($app, 'php-fpm');

// 1.x-3.x: $app->run() would emit again what json()/text() already sent under FPM (up to 2.0), and
// log a warning for every such request ("Attempting to emit response body multiple times"): emit
// only what is left.
$response = $app->handle();
if (!$response->isSent()) {
    $response->emit();
}
