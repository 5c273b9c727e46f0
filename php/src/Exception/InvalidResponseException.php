<?php

declare(strict_types=1);

namespace PivotPHP\Runtime\RoadRunner\Exception;

/**
 * An HTTP response cannot be sent as given: status outside 100–599, malformed headers.
 */
final class InvalidResponseException extends \InvalidArgumentException implements RoadRunnerException
{
}
