<?php

declare(strict_types=1);

namespace PivotPHP\Runtime\RoadRunner\Rpc;

/**
 * The answer does not belong to the call: wrong sequence id, wrong method, missing options,
 * or a body that is not valid JSON. The connection is closed, since it is out of step.
 */
final class UnexpectedResponseException extends RpcException
{
}
