<?php

declare(strict_types=1);

namespace PivotPHP\Runtime\RoadRunner\Lifecycle;

use PivotPHP\Runtime\RoadRunner\Http\Request;

/**
 * An application as the runtime drives it: one request in, one response out, and a reset of
 * the framework's own state after each request. Implemented for PivotPHP
 * (`PivotPHP\ApplicationHandler`) and for PSR-7/PSR-15 apps ({@see Psr7Handler}).
 */
interface Handler
{
    /**
     * Handles one request. Called with the superglobals filled for $request and PHP's output
     * captured; may throw (the client then gets a 500 and the worker keeps serving).
     */
    public function handle(Request $request): Response;

    /** Clears the framework's per-request state (pools, caches); called after every request. */
    public function reset(): void;
}
