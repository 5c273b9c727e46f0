<?php

declare(strict_types=1);

namespace PivotPHP\Runtime\RoadRunner\Rpc;

use PivotPHP\Runtime\RoadRunner\Exception\RoadRunnerException;

/**
 * Base of every RPC failure: catch this to handle "RoadRunner did not do what I asked",
 * whatever the reason (the server said no, the connection broke, the call timed out).
 */
class RpcException extends \RuntimeException implements RoadRunnerException
{
}
