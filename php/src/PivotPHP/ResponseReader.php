<?php

declare(strict_types=1);

namespace PivotPHP\Runtime\RoadRunner\PivotPHP;

use PivotPHP\Core\Http\Pool\Psr7Pool;
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
 *
 * Outside test mode `getHeaders()` builds a pooled PSR-7 response (a `php://memory` stream, the
 * header pool's serialized keys) only to hand back `[name => [value]]` of the Response's own
 * `name => value` table. When that result is certain — the Response is PivotPHP's own class, no
 * PSR-7 response was built yet, the response pool is empty (a pooled one is re-filled through
 * the validating `withHeader()`), every name and value is a string — the table is read directly
 * (see {@see plainHeaders()}); anything else asks `getHeaders()`.
 */
final class ResponseReader
{
    /** @var (\Closure(PivotResponse): ?array)|false|null false: this core's internals are not the known ones */
    private static \Closure|false|null $plainHeaders = null;

    public function read(PivotResponse $response): Response
    {
        $plain = self::plainHeaders($response);
        if ($plain !== null && !$response->isTestMode()) {
            // Names and values are all strings: Response's constructor gives each its list.
            return new Response($response->getStatusCode(), $plain, $response->getBodyAsString(), $response->isSent());
        }

        $headers = [];
        foreach ($plain ?? $response->getHeaders() as $name => $value) {
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

    /**
     * What `getHeaders()` would return, in the flat shape, read without building PSR-7 objects;
     * null when only `getHeaders()` can tell.
     *
     * @return array<string, string>|array<mixed>|null
     */
    public static function plainHeaders(PivotResponse $response): ?array
    {
        if ($response::class !== PivotResponse::class) {
            return null; // a subclass may override getHeaders()
        }
        if (self::$plainHeaders === null) {
            self::$plainHeaders = self::plainHeadersReader();
        }

        return self::$plainHeaders === false ? null : (self::$plainHeaders)($response);
    }

    private static function plainHeadersReader(): \Closure|false
    {
        foreach (['headers', 'psr7Response', 'testMode'] as $property) {
            if (!property_exists(PivotResponse::class, $property)) {
                return false;
            }
        }
        if (!class_exists(Psr7Pool::class) || !property_exists(Psr7Pool::class, 'responsePool')) {
            return false;
        }
        $responsePoolEmpty = \Closure::bind(static fn (): bool => self::$responsePool === [], null, Psr7Pool::class);

        return \Closure::bind(static function (PivotResponse $response) use ($responsePoolEmpty): ?array {
            if ($response->testMode) {
                return $response->headers; // getHeaders() returns them as they are
            }
            if ($response->psr7Response !== null || !$responsePoolEmpty()) {
                return null;
            }
            foreach ($response->headers as $name => $value) {
                if (!is_string($name) || !is_string($value)) {
                    return null; // getHeaders() would pass them through HeaderPool's strict types
                }
            }

            return $response->headers; // a fresh PSR-7 response would hold [name => [value]]
        }, null, PivotResponse::class);
    }
}
