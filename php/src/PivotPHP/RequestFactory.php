<?php

declare(strict_types=1);

namespace PivotPHP\Runtime\RoadRunner\PivotPHP;

use PivotPHP\Core\Http\Request as PivotRequest;
use PivotPHP\Runtime\RoadRunner\Http\Request;

/**
 * Builds PivotPHP's own Request for a RoadRunner request. PivotPHP reads the superglobals (filled
 * by the runtime and kept for the whole call) and `php://input`, which is empty in the CLI, so
 * the raw body is handed over through reflection: `Request::$cachedInput` for the PSR-7 side
 * (`getBody()`, `getParsedBody()`), and the private `body` for `$req->body`/`input()` on JSON.
 */
final class RequestFactory
{
    private ?\ReflectionProperty $body = null;

    public function create(Request $request): PivotRequest
    {
        $raw = self::rawBody($request);
        FrameworkState::setCachedInput($raw);

        $pivotRequest = PivotRequest::createFromGlobals();

        if ($raw !== '' && strtoupper($request->method) !== 'GET') {
            $decoded = json_decode($raw);
            if ($decoded instanceof \stdClass) {
                $this->bodyProperty()->setValue($pivotRequest, $decoded);
            }
        }
        foreach ($request->attributes as $name => $value) {
            $pivotRequest->setAttribute((string) $name, $value);
        }

        return $pivotRequest;
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

    private function bodyProperty(): \ReflectionProperty
    {
        if ($this->body === null) {
            if (!property_exists(PivotRequest::class, 'body')) {
                throw new \LogicException(sprintf(
                    '%s has no $body property: this PivotPHP core version is not supported'
                    . ' (pivotphp/core ^1.1 || ^2.0 is)',
                    PivotRequest::class,
                ));
            }
            $this->body = new \ReflectionProperty(PivotRequest::class, 'body');
            $this->body->setAccessible(true);
        }

        return $this->body;
    }
}
