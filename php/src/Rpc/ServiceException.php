<?php

declare(strict_types=1);

namespace PivotPHP\Runtime\RoadRunner\Rpc;

/**
 * RoadRunner answered the call with an error frame: the method ran (or was looked up) and
 * failed. The server's own message is kept verbatim in {@see $serverMessage}.
 */
final class ServiceException extends RpcException
{
    public function __construct(
        public readonly string $method,
        public readonly string $serverMessage,
    ) {
        // Go nests errors with "\n\t"; one line reads better in logs and HTTP error bodies.
        parent::__construct(sprintf('RPC %s failed: %s', $method, self::oneLine($serverMessage)));
    }

    public static function oneLine(string $message): string
    {
        return trim((string) preg_replace('/\s*[\r\n\t]+\s*/', ' ', $message));
    }
}
