<?php

declare(strict_types=1);

namespace PivotPHP\Runtime\RoadRunner\Rpc;

/**
 * A synchronous goridge RPC call with the JSON codec (wire-protocol.md §5, §6).
 */
interface RpcInterface
{
    /**
     * Calls `Service.Method` and returns the decoded JSON reply (null for an empty reply).
     *
     * @param mixed $argument JSON-encodable value; null sends an empty argument (0 bytes),
     *                        which Go decodes as the zero value (jobs.List, jobs.Stat)
     *
     * @throws ServiceException            the server answered with an error
     * @throws ConnectionException         cannot connect, or the connection broke
     * @throws TimeoutException            no answer within the timeout
     * @throws UnexpectedResponseException the answer does not match the call
     */
    public function call(string $method, mixed $argument = null): mixed;
}
