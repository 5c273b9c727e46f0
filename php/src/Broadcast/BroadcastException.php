<?php

declare(strict_types=1);

namespace PivotPHP\Runtime\RoadRunner\Broadcast;

use PivotPHP\Runtime\RoadRunner\Exception\RoadRunnerException;
use PivotPHP\Runtime\RoadRunner\Rpc\RpcException;

/** A pivot.Broadcast* RPC call failed (rr unreachable, pivot.broadcast not configured, a refused message). */
final class BroadcastException extends \RuntimeException implements RoadRunnerException
{
    public function __construct(public readonly string $operation, RpcException $previous)
    {
        parent::__construct(sprintf('broadcast %s failed: %s', $operation, $previous->getMessage()), 0, $previous);
    }
}
