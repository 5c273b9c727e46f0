<?php

declare(strict_types=1);

namespace PivotPHP\Runtime\RoadRunner\PivotPHP;

use PivotPHP\Core\Http\Pool\Psr7Pool;
use PivotPHP\Core\Http\Psr7\Pool\HeaderPool;
use PivotPHP\Core\Http\Request as PivotRequest;

/**
 * PivotPHP core's process-wide state that leaks from one request into the next
 * (pivotphp-core.md §2), cleared before and after every request:
 *
 * - `Psr7Pool`: pooled server requests keep the previous request's headers, server params and
 *   parsed body;
 * - `HeaderPool`: its access-time table grows by one entry per distinct header value;
 * - `Request::$cachedInput` (private static): the first request's body, repeated forever.
 *
 * The route table (static in core-routing 1.x) is the application's, and stays.
 */
final class FrameworkState
{
    /** @var (\Closure(?string): void)|null sets the private static Request::$cachedInput */
    private static ?\Closure $cachedInput = null;

    /** Whether the pool classes exist (checked until they do: classes are never unloaded). */
    private static bool $psr7Pool = false;
    private static bool $headerPool = false;

    public function reset(): void
    {
        if (self::$psr7Pool || self::$psr7Pool = class_exists(Psr7Pool::class)) {
            Psr7Pool::clearPools();
        }
        if (self::$headerPool || self::$headerPool = class_exists(HeaderPool::class)) {
            HeaderPool::clearAll();
        }
        self::setCachedInput(null);
    }

    /**
     * Sets what PivotPHP's Request believes `php://input` holds (empty in the CLI).
     */
    public static function setCachedInput(?string $body): void
    {
        (self::$cachedInput ??= self::cachedInputSetter())($body);
    }

    /** @return \Closure(?string): void */
    private static function cachedInputSetter(): \Closure
    {
        if (!property_exists(PivotRequest::class, 'cachedInput')) {
            throw new \LogicException(sprintf(
                '%s has no static $cachedInput property: this PivotPHP core version is not supported'
                . ' (pivotphp/core ^1.1 || ^2.0 is)',
                PivotRequest::class,
            ));
        }
        // Bound to the Request's scope: a plain assignment, no ReflectionProperty::setValue() per call.
        return \Closure::bind(static function (?string $body): void {
            self::$cachedInput = $body;
        }, null, PivotRequest::class);
    }
}
