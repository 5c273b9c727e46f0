<?php

declare(strict_types=1);

namespace PivotPHP\Runtime\RoadRunner\Lifecycle;

use PivotPHP\Runtime\RoadRunner\Exception\RoadRunnerException;

/**
 * A configuration key or value the runtime cannot use: the message names the key, where the
 * value came from (the $config array or an environment variable) and what is expected.
 */
final class InvalidConfigException extends \InvalidArgumentException implements RoadRunnerException
{
}
