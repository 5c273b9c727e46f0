<?php

declare(strict_types=1);

namespace PivotPHP\Runtime\RoadRunner\Rpc;

/**
 * No complete answer arrived within the client's timeout. The connection is closed (a late
 * answer must not be read as the answer to the next call); the next call reconnects.
 */
final class TimeoutException extends RpcException
{
}
