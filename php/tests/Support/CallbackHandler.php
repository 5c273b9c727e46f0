<?php

declare(strict_types=1);

namespace PivotPHP\Runtime\RoadRunner\Tests\Support;

use PivotPHP\Runtime\RoadRunner\Http\Request;
use PivotPHP\Runtime\RoadRunner\Lifecycle\Handler;
use PivotPHP\Runtime\RoadRunner\Lifecycle\Response;

/** An application made of one closure, for tests that need to look inside the request scope. */
final class CallbackHandler implements Handler
{
    public int $resets = 0;

    /** @var \Closure(): void|null */
    public ?\Closure $onReset = null;

    /** @param \Closure(Request): Response $handle */
    public function __construct(private readonly \Closure $handle)
    {
    }

    public function handle(Request $request): Response
    {
        return ($this->handle)($request);
    }

    public function reset(): void
    {
        ++$this->resets;
        if ($this->onReset !== null) {
            ($this->onReset)();
        }
    }
}
