<?php

declare(strict_types=1);

namespace PivotPHP\Runtime\RoadRunner\Exception;

/**
 * Marker implemented by every exception this package throws, so callers can catch them all.
 */
interface RoadRunnerException extends \Throwable
{
}
