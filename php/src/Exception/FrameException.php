<?php

declare(strict_types=1);

namespace PivotPHP\Runtime\RoadRunner\Exception;

/**
 * A goridge frame cannot be built or parsed: bad CRC, truncated bytes, too many options.
 */
final class FrameException extends \RuntimeException implements RoadRunnerException
{
}
