<?php

declare(strict_types=1);

namespace PivotPHP\Runtime\RoadRunner\Lifecycle;

use PivotPHP\Runtime\RoadRunner\Http\Psr7Worker;
use PivotPHP\Runtime\RoadRunner\Http\Request;
use Psr\Http\Message\ResponseInterface;

/**
 * A PSR-7 application as a {@see Handler}: a PSR-15 `RequestHandlerInterface` (any object with
 * `handle(ServerRequestInterface): ResponseInterface`) or a callable of the same shape. An
 * application object with a `reset()` method (Symfony's ResetInterface style) is reset after
 * every request.
 */
final class Psr7Handler implements Handler
{
    private readonly \Closure $app;
    private readonly ?\Closure $reset;

    public function __construct(private readonly Psr7Worker $psr7, callable|object $app)
    {
        if (is_object($app) && !$app instanceof \Closure && method_exists($app, 'handle')) {
            $this->app = $app->handle(...);
        } elseif (is_callable($app)) {
            $this->app = \Closure::fromCallable($app);
        } else {
            throw new \InvalidArgumentException(sprintf(
                'The PSR-7 application must be a PSR-15 RequestHandlerInterface or a'
                . ' callable(ServerRequestInterface): ResponseInterface, got %s',
                get_debug_type($app),
            ));
        }
        $this->reset = is_object($app) && !$app instanceof \Closure && method_exists($app, 'reset')
            ? $app->reset(...)
            : null;
    }

    public function handle(Request $request): Response
    {
        $response = ($this->app)($this->psr7->toServerRequest($request));
        if (!$response instanceof ResponseInterface) {
            throw new \UnexpectedValueException(sprintf(
                'The PSR-7 application must return a ResponseInterface, got %s',
                get_debug_type($response),
            ));
        }

        return new Response($response->getStatusCode(), $response->getHeaders(), (string) $response->getBody());
    }

    public function reset(): void
    {
        if ($this->reset !== null) {
            ($this->reset)();
        }
    }
}
