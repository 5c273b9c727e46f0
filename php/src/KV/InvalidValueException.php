<?php

declare(strict_types=1);

namespace PivotPHP\Runtime\RoadRunner\KV;

use PivotPHP\Runtime\RoadRunner\Exception\RoadRunnerException;

/**
 * A value cannot be encoded (an object, a resource, a non-UTF-8 string inside an array, INF)
 * or stored bytes cannot be decoded (written by another client or codec).
 */
final class InvalidValueException extends \InvalidArgumentException implements RoadRunnerException
{
}
