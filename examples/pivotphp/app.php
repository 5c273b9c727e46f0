<?php

/**
 * The application in the style of PivotPHP core 1.x-3.x (the hybrid Request/Response): its
 * middleware and routes, shared by the RoadRunner worker (worker.php, booted once per worker) and
 * the classic PHP-FPM front controller (public/index.php, booted per request) — the same code under
 * both, which is what `make bench` compares. app5.php is the same app for core 4.x/5.x.
 */

declare(strict_types=1);

use App\Services;
use PivotPHP\Core\Core\Application;

require_once __DIR__ . '/services.php';

/** $runtime names the server in the X-Powered-By-Runtime header. */
return static function (Application $app, string $runtime = 'pivotphp-roadrunner'): void {
    // Global middleware (PivotPHP runs it for matched routes).
    $app->use(function ($req, $res, $next) use ($runtime) {
        $res->header('X-Powered-By-Runtime', $runtime);

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

    $app->get('/text', fn ($req, $res) => $res->text('Hello from PivotPHP'));

    // Server-sent events: captured and sent when the handler returns (not streamed live).
    $app->get('/events', function ($req, $res) {
        $res->startStream('text/event-stream');
        foreach (['boot', 'serve', 'recycle'] as $i => $stage) {
            $res->sendEvent(['stage' => $stage], 'lifecycle', (string) $i);
        }
        $res->endStream();

        return $res;
    });

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
            return $res->status(202)->json(Services::signup($req->body));
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
