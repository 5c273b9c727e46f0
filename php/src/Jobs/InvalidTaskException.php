<?php

declare(strict_types=1);

namespace PivotPHP\Runtime\RoadRunner\Jobs;

use PivotPHP\Runtime\RoadRunner\Exception\RoadRunnerException;

/**
 * RoadRunner handed over a task this consumer cannot read: no or invalid context, a JSON
 * payload that is not JSON. The task is failed without requeue (retrying cannot fix it).
 */
final class InvalidTaskException extends \RuntimeException implements RoadRunnerException
{
}
