<?php

declare(strict_types=1);

namespace PivotPHP\Runtime\RoadRunner\Jobs;

use PivotPHP\Runtime\RoadRunner\Exception\RoadRunnerException;
use PivotPHP\Runtime\RoadRunner\Rpc\RpcException;

/**
 * A jobs.* call failed in RoadRunner (no such pipeline, driver error) or on the way there
 * (RPC connection, timeout). The message carries RoadRunner's own message.
 */
final class JobsException extends \RuntimeException implements RoadRunnerException
{
    public function __construct(string $what, RpcException $previous)
    {
        parent::__construct(sprintf('%s failed: %s', $what, $previous->getMessage()), 0, $previous);
    }
}
