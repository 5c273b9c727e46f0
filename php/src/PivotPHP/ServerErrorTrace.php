<?php

declare(strict_types=1);

namespace PivotPHP\Runtime\RoadRunner\PivotPHP;

use PivotPHP\Runtime\RoadRunner\Http\Request;
use PivotPHP\Runtime\RoadRunner\Lifecycle\Log;
use PivotPHP\Runtime\RoadRunner\Lifecycle\Response;

/**
 * Leaves a line in RoadRunner's log for a 5xx the application answered: PivotPHP logs the
 * exception to its own logger, and the line names the error_id its body carries, so the two
 * logs can be matched. Shared by both core paths (ApplicationHandler, Psr15ApplicationHandler).
 */
final class ServerErrorTrace
{
    public static function note(Log $log, Request $request, Response $response): void
    {
        if ($response->status < 500) {
            return;
        }
        $log->write(sprintf(
            '%s %s answered %d by the application%s',
            $request->method,
            $request->path(),
            $response->status,
            self::errorId($response->body),
        ));
    }

    /** ` (error_id …)` when a PivotPHP error body names one. */
    public static function errorId(string $body): string
    {
        return preg_match('/"error_id"\s*:\s*"([^"]+)"/', $body, $m) === 1 ? ' (error_id ' . $m[1] . ')' : '';
    }
}
