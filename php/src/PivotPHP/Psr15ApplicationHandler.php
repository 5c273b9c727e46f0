<?php

declare(strict_types=1);

namespace PivotPHP\Runtime\RoadRunner\PivotPHP;

use PivotPHP\Core\Core\Application;
use PivotPHP\Runtime\RoadRunner\Http\Request;
use PivotPHP\Runtime\RoadRunner\Lifecycle\Handler;
use PivotPHP\Runtime\RoadRunner\Lifecycle\Log;
use PivotPHP\Runtime\RoadRunner\Lifecycle\Response;
use Psr\Http\Message\ResponseInterface;

/**
 * The path of PivotPHP core 4.x and 5.x ({@see CoreLine::PSR15}; pivotphp/http, pivotphp/security,
 * core-routing 2.2 and 3.0): `Application` is a PSR-15 handler. Each request becomes a PSR-7
 * `ServerRequest` ({@see ServerRequestBuilder}: body, uploads, cookies, attributes, server params),
 * goes through `$app->handle($request)` — never `handle(null)`, which would build the request
 * from the globals and an empty `php://input` — and the PSR-7 response's status, headers and body
 * go back to RoadRunner. `run()` is never called: it installs error handlers and emits through
 * the SAPI.
 *
 * What outlives a request on these lines, and what is done about it:
 *
 * - the `ExpressRequest`/`ExpressResponse` façades and the PSR-7 messages are new per request and
 *   die with it (nothing kept here); what the app prints, streams or emits through pivotphp/http's
 *   `SapiEmitter` is captured with the output (the runtime's OutputCapture), and the status and
 *   headers it sends through `http_response_code()`/`header()` are reset after the request
 *   (Lifecycle\StateReset);
 * - container bindings made during a request: dropped ({@see ContainerBindings});
 * - error and exception handlers a request left installed (`run()` installs them; `handle()`
 *   does not since 4.0): put back to the boot state ({@see ErrorHandlers});
 * - the router: the table is the app's (static in core-routing 2.2 under 4.x, per Application in
 *   5.x); neither version keeps per-URL caches;
 * - `display_errors` (`app.debug` turns it on, STDOUT in the CLI): reset to STDERR.
 */
final class Psr15ApplicationHandler implements Handler
{
    private readonly ErrorHandlers $errorHandlers;
    private readonly ContainerBindings $bindings;

    public function __construct(
        private readonly Application $app,
        private readonly ServerRequestBuilder $requests,
        private readonly Log $log = new Log(),
    ) {
        $this->errorHandlers = new ErrorHandlers();
        $this->bindings = new ContainerBindings();
    }

    public function boot(): void
    {
        $this->app->boot();
        ini_set('display_errors', 'stderr');
        $this->errorHandlers->capture();
        if (method_exists($this->app, 'getContainer')) {
            $this->bindings->capture($this->app->getContainer());
        }
    }

    public function handle(Request $request): Response
    {
        $psr7 = $this->app->handle($this->requests->build($request, $_SERVER));
        if (!$psr7 instanceof ResponseInterface) {
            throw new \UnexpectedValueException(sprintf(
                'PivotPHP Application::handle() returned %s, not a ResponseInterface',
                get_debug_type($psr7),
            ));
        }
        $body = $psr7->getBody();
        if ($body->isSeekable()) {
            $body->rewind();
        }
        $response = new Response($psr7->getStatusCode(), $psr7->getHeaders(), $body->getContents());

        ServerErrorTrace::note($this->log, $request, $response);

        return $response;
    }

    public function reset(): void
    {
        $this->bindings->restore();
        $this->errorHandlers->restore();
    }
}
