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
    private static ?\ReflectionProperty $cachedInput = null;

    public function reset(): void
    {
        if (class_exists(Psr7Pool::class)) {
            Psr7Pool::clearPools();
        }
        if (class_exists(HeaderPool::class)) {
            HeaderPool::clearAll();
        }
        self::setCachedInput(null);
    }

    /**
     * Sets what PivotPHP's Request believes `php://input` holds (empty in the CLI).
     */
    public static function setCachedInput(?string $body): void
    {
        self::cachedInputProperty()->setValue(null, $body);
    }

    private static function cachedInputProperty(): \ReflectionProperty
    {
        if (self::$cachedInput === null) {
            if (!property_exists(PivotRequest::class, 'cachedInput')) {
                throw new \LogicException(sprintf(
                    '%s has no static $cachedInput property: this PivotPHP core version is not supported'
                    . ' (pivotphp/core ^1.1 || ^2.0 is)',
                    PivotRequest::class,
                ));
            }
            $property = new \ReflectionProperty(PivotRequest::class, 'cachedInput');
            $property->setAccessible(true);
            self::$cachedInput = $property;
        }

        return self::$cachedInput;
    }
}
