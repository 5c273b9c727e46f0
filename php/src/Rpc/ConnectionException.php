<?php

declare(strict_types=1);

namespace PivotPHP\Runtime\RoadRunner\Rpc;

/**
 * The RPC connection could not be opened, or broke during a call. After a break the client
 * reconnects on the next call; whether the broken call ran on the server is unknown.
 */
final class ConnectionException extends RpcException
{
}
