<?php

declare(strict_types=1);

namespace PivotPHP\Runtime\RoadRunner\Jobs;

use PivotPHP\Runtime\RoadRunner\Exception\RoadRunnerException;

/**
 * A job cannot be dispatched as given: empty name or pipeline, unknown or mistyped option,
 * a payload that cannot be encoded.
 */
final class InvalidJobException extends \InvalidArgumentException implements RoadRunnerException
{
}
