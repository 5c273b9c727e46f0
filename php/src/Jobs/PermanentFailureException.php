<?php

declare(strict_types=1);

namespace PivotPHP\Runtime\RoadRunner\Jobs;

/**
 * Thrown by a handler for a failure that retrying cannot fix (invalid input, a deleted
 * record): the task is failed at once, without requeue, whatever the retry policy says.
 */
final class PermanentFailureException extends \RuntimeException
{
}
