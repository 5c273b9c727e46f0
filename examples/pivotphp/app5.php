<?php

/**
 * The same application in the style of PivotPHP core 4.x and 5.x (what `composer require
 * pivotphp/core` installs today): routes get pivotphp/http's ExpressRequest/ExpressResponse façades
 * and return the response, middleware gets the PSR-7 request and `$next($request)` returns the PSR-7
 * response. worker.php and public/index.php load this file on a 4.x/5.x core and app.php (the
 * 1.x-3.x style) on older ones; both answer the same.
 */

declare(strict_types=1);

use PivotPHP\Core\Core\Application;

/** $runtime names the server in the X-Powered-By-Runtime header. */
return static function (Application $app, string $runtime = 'pivotphp-roadrunner'): void {
    // Global middleware: since 2.3.1 it wraps routing (a 404 is thrown through it, not returned).
    $app->use(function ($req, $res, $next) use ($runtime) {
        return $next($req)->withHeader('X-Powered-By-Runtime', $runtime);
    });

    $app->get('/', fn ($req, $res) => $res->json([
        'ok' => true,
        'framework' => 'PivotPHP ' . Application::VERSION,
        'pid' => getmypid(),
    ]));

    $app->get('/hello/:name', fn ($req, $res) => $res->json([
        'hello' => $req->param('name'),
        'lang' => $req->query('lang', 'en'),
        'agent' => $req->header('User-Agent'),
    ]));

    // JSON bodies are parsed by the core (malformed JSON is a 400) into the PSR-7 parsed body.
    $app->post('/echo', fn ($req, $res) => $res->status(201)->json(['received' => $req->psr7()->getParsedBody()]));

    $app->get('/text', fn ($req, $res) => $res->text('Hello from PivotPHP'));

    $app->get('/boom', function () {
        throw new RuntimeException('handled by PivotPHP: 500 with an error_id, the worker keeps serving');
    });
};
