<?php

declare(strict_types=1);

namespace PivotPHP\Runtime\RoadRunner\Exception;

/**
 * RoadRunner and the worker disagree about the conversation: an unexpected frame, an invalid
 * control message, or a response sent when no request is waiting for one.
 */
final class ProtocolException extends \RuntimeException implements RoadRunnerException
{
}
