<?php

/**
 * The same `/` and `/hello` routes with PSR-7 messages: Psr7Worker + nyholm/psr7.
 *
 * nyholm/psr7 comes from `composer require nyholm/psr7` in this directory, or from the
 * Debian package php-nyholm-psr7 (found on the include path).
 */

declare(strict_types=1);

use Nyholm\Psr7\Factory\Psr17Factory;
use PivotPHP\Runtime\RoadRunner\Http\Psr7Worker;
use Psr\Http\Message\ResponseInterface;
use Psr\Http\Message\ServerRequestInterface;

require __DIR__ . '/../../php/autoload.php';

if (is_file(__DIR__ . '/vendor/autoload.php')) {
    require __DIR__ . '/vendor/autoload.php';
} elseif (($nyholm = stream_resolve_include_path('Nyholm/Psr7/autoload.php')) !== false) {
    require $nyholm;
}
if (!class_exists(Psr17Factory::class)) {
    fwrite(STDERR, "psr7-worker.php needs nyholm/psr7: run `composer require nyholm/psr7` in examples/hello or install php-nyholm-psr7\n");
    exit(1);
}

$factory = new Psr17Factory();
$psr7 = Psr7Worker::create($factory, $factory, $factory);

$handle = static function (ServerRequestInterface $request) use ($factory): ResponseInterface {
    return match ($request->getMethod() . ' ' . $request->getUri()->getPath()) {
        'GET /' => $factory->createResponse(200)
            ->withHeader('Content-Type', 'application/json')
            ->withBody($factory->createStream(json_encode([
                'ok' => true,
                'runtime' => 'pivotphp-runtime-roadrunner',
                'pid' => getmypid(),
            ], JSON_THROW_ON_ERROR))),
        'GET /hello' => $factory->createResponse(200)
            ->withHeader('Content-Type', 'text/plain')
            ->withBody($factory->createStream('Hello, World!')),
        default => $factory->createResponse(404)
            ->withHeader('Content-Type', 'application/json')
            ->withBody($factory->createStream(json_encode([
                'error' => 'not found',
                'path' => $request->getUri()->getPath(),
            ], JSON_UNESCAPED_SLASHES | JSON_THROW_ON_ERROR))),
    };
};

while (($request = $psr7->waitRequest()) !== null) {
    try {
        $psr7->respond($handle($request));
    } catch (Throwable $e) {
        fwrite(STDERR, sprintf("[psr7-worker %d] %s: %s\n", getmypid(), $e::class, $e->getMessage()));
        if ($psr7->httpWorker()->worker()->hasPendingRequest()) {
            $psr7->error($e->getMessage());
        }
    }
}
