<?php

declare(strict_types=1);

namespace PivotPHP\Runtime\RoadRunner\Metrics;

use PivotPHP\Runtime\RoadRunner\Exception\RoadRunnerException;
use PivotPHP\Runtime\RoadRunner\Rpc\RpcException;

/**
 * A metrics.* call failed: undeclared collector, wrong label count, a method the collector
 * type does not support, or the RPC itself. The message carries RoadRunner's own message.
 */
final class MetricsException extends \RuntimeException implements RoadRunnerException
{
    public function __construct(string $what, RpcException $previous)
    {
        parent::__construct(sprintf('%s failed: %s', $what, $previous->getMessage()), 0, $previous);
    }
}
