<?php

declare(strict_types=1);

namespace PivotPHP\Runtime\RoadRunner\PivotPHP;

use PivotPHP\Core\Http\Request as PivotRequest;
use PivotPHP\Runtime\RoadRunner\Http\Request;

/**
 * Builds the hybrid line's own Request (core 1.1 to 3.x) for a RoadRunner request. PivotPHP
 * reads the superglobals (filled by the runtime and kept for the whole call) and `php://input`,
 * which is empty in the CLI, so the raw body is handed over through reflection: the input cache
 * `Request::$cachedInput` for the PSR-7 side (`getBody()`, `getParsedBody()`) — set before the
 * Request is built while it is static (up to 2.x), on the new Request once it is per instance
 * (3.0) — and the private `body` for `$req->body`/`input()` on JSON.
 */
final class RequestFactory
{
    /** The private `body` (false: this core's Request has none). */
    private \ReflectionProperty|false|null $body = null;
    private ?\ReflectionProperty $instanceInput = null;

    public function create(Request $request): PivotRequest
    {
        $raw = self::rawBody($request);
        $static = FrameworkState::setCachedInput($raw);

        $pivotRequest = PivotRequest::createFromGlobals();

        if (!$static && FrameworkState::inputCache() === FrameworkState::INPUT_INSTANCE) {
            // The constructor already read php://input (''); its PSR-7 side is built lazily later.
            ($this->instanceInput ??= self::accessible('cachedInput'))->setValue($pivotRequest, $raw);
        }
        if ($raw !== '' && strtoupper($request->method) !== 'GET') {
            $decoded = json_decode($raw);
            $this->body ??= property_exists(PivotRequest::class, 'body') ? self::accessible('body') : false;
            if ($decoded instanceof \stdClass && $this->body !== false) {
                $this->body->setValue($pivotRequest, $decoded);
            }
        }

        return $this->withAttributes($pivotRequest, $request);
    }

    /**
     * What `php://input` would hold under PHP-FPM: the raw body; for a urlencoded form (which
     * RoadRunner sends already parsed) the form re-encoded; for multipart nothing, as in PHP.
     */
    public static function rawBody(Request $request): string
    {
        if (!$request->parsed) {
            return $request->body;
        }
        $contentType = strtolower((string) $request->header('Content-Type'));
        if (str_contains($contentType, 'application/x-www-form-urlencoded')) {
            return http_build_query($request->parsedBody ?? [], '', '&', PHP_QUERY_RFC1738);
        }

        return '';
    }

    private function withAttributes(PivotRequest $pivotRequest, Request $request): PivotRequest
    {
        foreach ($request->attributes as $name => $value) {
            $pivotRequest->setAttribute((string) $name, $value);
        }

        return $pivotRequest;
    }

    private static function accessible(string $property): \ReflectionProperty
    {
        $reflection = new \ReflectionProperty(PivotRequest::class, $property);
        $reflection->setAccessible(true);

        return $reflection;
    }
}
