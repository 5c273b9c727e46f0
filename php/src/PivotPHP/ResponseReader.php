<?php

declare(strict_types=1);

namespace PivotPHP\Runtime\RoadRunner\PivotPHP;

use PivotPHP\Core\Http\Response as PivotResponse;
use PivotPHP\Runtime\RoadRunner\Lifecycle\Response;

/**
 * Reads status, headers and body out of PivotPHP's Response.
 *
 * - the body comes from `getBodyAsString()` (`getBody()` is a string in test mode, a stream
 *   otherwise);
 * - headers come flat (`name => value`) in test mode and PSR-7 shaped (`name => [values]`)
 *   otherwise; both are accepted;
 * - `json()`/`text()`/`html()` echo the body (outside test mode) and mark the response sent:
 *   then the captured output is the body, which also carries streamed responses
 *   (`startStream()`/`write()`/`endStream()` leave `getBodyAsString()` empty).
 */
final class ResponseReader
{
    public function read(PivotResponse $response): Response
    {
        $headers = [];
        foreach ($response->getHeaders() as $name => $value) {
            if (!is_string($name) || $name === '') {
                continue;
            }
            $headers[$name] = is_array($value) ? array_values(array_map('strval', $value)) : [(string) $value];
        }

        return new Response(
            $response->getStatusCode(),
            $headers,
            $response->getBodyAsString(),
            $response->isSent(),
        );
    }
}
