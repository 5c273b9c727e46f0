<?php

/**
 * The same application in the style of PivotPHP core 4.x and 5.x (what `composer require
 * pivotphp/core` installs today): routes get pivotphp/http's ExpressRequest/ExpressResponse façades
 * and return the response, middleware gets the PSR-7 request and `$next($request)` returns the PSR-7
 * response. worker.php and public/index.php load this file on a 4.x/5.x core and app.php (the
 * 1.x-3.x style) on older ones; both answer the same.
 */

declare(strict_types=1);

use App\Services;
use PivotPHP\Core\Core\Application;

require_once __DIR__ . '/services.php';

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

    // Cached in RoadRunner's KV: built once (50 ms), then served by any worker for 30 s.
    $app->get('/reports/:name', function ($req, $res) {
        try {
            return $res->json(Services::report((string) $req->param('name')));
        } catch (InvalidArgumentException $e) {
            return $res->status(400)->json(['error' => $e->getMessage()]);
        }
    });

    // A JSON body in, a job out: 202 at once; the jobs plugin's workers run `welcome`.
    $app->post('/signup', function ($req, $res) {
        try {
            return $res->status(202)->json(Services::signup($req->psr7()->getParsedBody()));
        } catch (InvalidArgumentException $e) {
            return $res->status(422)->json(['error' => $e->getMessage()]);
        }
    });

    $app->get('/jobs/:id', function ($req, $res) {
        $result = Services::job((string) $req->param('id'));

        return $result === null
            ? $res->status(404)->json(['status' => 'pending'])
            : $res->json(['status' => 'done'] + $result);
    });

    $app->get('/boom', function () {
        throw new RuntimeException('handled by PivotPHP: 500 with an error_id, the worker keeps serving');
    });
};
