<?php

declare(strict_types=1);

namespace PivotPHP\Runtime\RoadRunner\KV;

use PivotPHP\Runtime\RoadRunner\Exception\RoadRunnerException;
use PivotPHP\Runtime\RoadRunner\Rpc\RpcException;

/**
 * A KV operation failed in RoadRunner (unknown storage, Redis down, TTL unsupported by the
 * driver) or on the way there (RPC connection, timeout). The message names the storage and
 * the operation and carries RoadRunner's own message; the RPC exception is the previous one.
 */
final class StorageException extends \RuntimeException implements RoadRunnerException
{
    public function __construct(
        public readonly string $storage,
        public readonly string $operation,
        RpcException $previous,
    ) {
        parent::__construct(
            sprintf('KV storage "%s": %s failed: %s', $storage, $operation, $previous->getMessage()),
            0,
            $previous,
        );
    }
}
