<?php

/**
 * The reload plugin's end-to-end worker: it loads the "application" once, at boot, as a
 * long-running worker does, so only a reset makes it see an edit.
 *
 * APP_DIR (server.env) is the application's directory; $APP_DIR/app/version.php returns the
 * string this worker answers every request with, followed by its pid.
 */

declare(strict_types=1);

use PivotPHP\Runtime\RoadRunner\Http\HttpWorker;

require __DIR__ . '/../../../php/autoload.php';

$appDir = getenv('APP_DIR');
if (!is_string($appDir) || $appDir === '') {
    fwrite(STDERR, "APP_DIR is not set\n");
    exit(1);
}

// a syntax error in version.php stops this worker here, before it is ready
$version = require $appDir . '/app/version.php';

$http = HttpWorker::create();
while (($request = $http->waitRequest()) !== null) {
    $http->respond(200, $version . ' ' . getmypid(), ['Content-Type' => 'text/plain']);
}
