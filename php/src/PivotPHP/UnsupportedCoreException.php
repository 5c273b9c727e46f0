<?php

declare(strict_types=1);

namespace PivotPHP\Runtime\RoadRunner\PivotPHP;

use PivotPHP\Runtime\RoadRunner\Exception\RoadRunnerException;

/**
 * The installed PivotPHP core is outside the range the adapter serves (or not recognisable): the
 * worker stops at boot with one sentence naming the installed and the supported versions, instead
 * of failing every request.
 */
final class UnsupportedCoreException extends \LogicException implements RoadRunnerException
{
}
