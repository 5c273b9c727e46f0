<?php

declare(strict_types=1);

namespace PivotPHP\Runtime\RoadRunner\Exception;

/**
 * The transport to RoadRunner failed: unknown relay address, connect error, EOF, write error.
 */
final class RelayException extends \RuntimeException implements RoadRunnerException
{
}
