<?php

declare(strict_types=1);

namespace PivotPHP\Runtime\RoadRunner\PivotPHP;

use PivotPHP\Core\Core\Application;
use PivotPHP\Runtime\RoadRunner\Http\Request;
use PivotPHP\Runtime\RoadRunner\Lifecycle\Handler;
use PivotPHP\Runtime\RoadRunner\Lifecycle\Log;
use PivotPHP\Runtime\RoadRunner\Lifecycle\Response;

/**
 * A PivotPHP application as the runtime's {@see Handler}: builds the framework's Request (the
 * superglobals are already filled), calls `Application::handle()` — which never emits, and turns
 * the app's exceptions into JSON 404/500 responses itself — and reads the Response back.
 */
final class ApplicationHandler implements Handler
{
    public function __construct(
        private readonly Application $app,
        private readonly Log $log = new Log(),
        private readonly RequestFactory $requests = new RequestFactory(),
        private readonly ResponseReader $responses = new ResponseReader(),
        private readonly FrameworkState $state = new FrameworkState(),
    ) {
    }

    /**
     * Boots the application once (config, providers, error handling) and takes back what
     * PivotPHP changes for a web SAPI: `display_errors=1` prints on STDOUT in the CLI.
     */
    public function boot(): void
    {
        $this->app->boot();
        ini_set('display_errors', 'stderr');
        $this->state->reset();
    }

    public function handle(Request $request): Response
    {
        $this->state->reset();
        $response = $this->responses->read($this->app->handle($this->requests->create($request)));

        if ($response->status >= 500) {
            // PivotPHP logs the exception to its own logger; leave a trace in RoadRunner's log.
            $this->log->write(sprintf(
                '%s %s answered %d by the application%s',
                $request->method,
                $request->path(),
                $response->status,
                self::errorId($response->body),
            ));
        }

        return $response;
    }

    public function reset(): void
    {
        $this->state->reset();
    }

    private static function errorId(string $body): string
    {
        return preg_match('/"error_id"\s*:\s*"([^"]+)"/', $body, $m) === 1 ? ' (error_id ' . $m[1] . ')' : '';
    }
}
