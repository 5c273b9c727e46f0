<?php

declare(strict_types=1);

namespace PivotPHP\Runtime\RoadRunner\PivotPHP;

use PivotPHP\Core\Core\Application;
use PivotPHP\Runtime\RoadRunner\Http\Request;
use PivotPHP\Runtime\RoadRunner\Lifecycle\Handler;
use PivotPHP\Runtime\RoadRunner\Lifecycle\Log;
use PivotPHP\Runtime\RoadRunner\Lifecycle\Response;

/**
 * The hybrid line's path (core 1.1 to 3.x, {@see CoreLine::HYBRID}) as the runtime's
 * {@see Handler}: builds the framework's own Request (the superglobals are already filled), calls
 * `Application::handle(?Request): Response` — which never emits, and turns the app's exceptions
 * into JSON 404/500 responses itself — and reads the Response back.
 *
 * Reset after every request: {@see FrameworkState} (pools, static input cache, router per-URL
 * caches), {@see ContainerBindings} (bindings made during the request) and {@see ErrorHandlers}
 * (handlers a request left installed; the ones the Application installs at construction and boot
 * are the baseline and stay).
 */
final class ApplicationHandler implements Handler
{
    private FrameworkState $state;
    private readonly ErrorHandlers $errorHandlers;
    private readonly ContainerBindings $bindings;

    public function __construct(
        private readonly Application $app,
        private readonly Log $log = new Log(),
        private readonly RequestFactory $requests = new RequestFactory(),
        private readonly ResponseReader $responses = new ResponseReader(),
        ?FrameworkState $state = null,
    ) {
        $this->state = $state ?? new FrameworkState();
        $this->errorHandlers = new ErrorHandlers();
        $this->bindings = new ContainerBindings();
    }

    /**
     * Boots the application once (config, providers, error handling) and takes back what
     * PivotPHP changes for a web SAPI: `display_errors=1` prints on STDOUT in the CLI.
     */
    public function boot(): void
    {
        $this->app->boot();
        ini_set('display_errors', 'stderr');
        $this->state = new FrameworkState(new RouterCaches($this->app));
        $this->state->reset();
        $this->errorHandlers->capture();
        if (method_exists($this->app, 'getContainer')) {
            $this->bindings->capture($this->app->getContainer());
        }
    }

    public function handle(Request $request): Response
    {
        $this->state->reset();
        $response = $this->responses->read($this->app->handle($this->requests->create($request)));

        ServerErrorTrace::note($this->log, $request, $response);

        return $response;
    }

    public function reset(): void
    {
        $this->state->reset();
        $this->bindings->restore();
        $this->errorHandlers->restore();
    }
}
