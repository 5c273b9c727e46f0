<?php

declare(strict_types=1);

namespace PivotPHP\Runtime\RoadRunner\Jobs\Idempotency;

use PivotPHP\Runtime\RoadRunner\Exception\RoadRunnerException;

/** The idempotency store could not be read or written (a directory not writable, KV down). */
final class IdempotencyException extends \RuntimeException implements RoadRunnerException
{
}
