<?php

declare(strict_types=1);

namespace PivotPHP\Runtime\RoadRunner\Exception;

/**
 * The HTTP request context sent by RoadRunner cannot be decoded.
 */
final class InvalidRequestException extends \RuntimeException implements RoadRunnerException
{
}
