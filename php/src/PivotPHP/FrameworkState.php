<?php

declare(strict_types=1);

namespace PivotPHP\Runtime\RoadRunner\PivotPHP;

use PivotPHP\Core\Http\Pool\Psr7Pool;
use PivotPHP\Core\Http\Psr7\Pool\HeaderPool;
use PivotPHP\Core\Http\Request as PivotRequest;

/**
 * The process-wide state of PivotPHP's hybrid line (core 1.1 to 3.x) that outlives a request
 * (pivotphp-core.md §2), cleared before and after every request. What exists depends on the
 * release, so each part is looked up, never assumed:
 *
 * - `Psr7Pool` (core 1.x to 2.x; removed in 3.0): pooled server requests kept the previous
 *   request's headers, server params and parsed body (fixed in 2.1, unused from 2.3);
 * - `HeaderPool` (same releases): its access-time table grew by one entry per header value;
 * - `Request::$cachedInput` while it is **static** (up to 2.x): the first request's body,
 *   repeated forever. Once it is a per-instance property (3.0) it dies with its Request, and
 *   {@see RequestFactory} fills it on each new Request instead;
 * - the static router's per-URL caches ({@see RouterCaches}), when the application is known.
 *
 * The route table (static up to core-routing 2.x) is the application's, and stays.
 */
final class FrameworkState
{
    public const INPUT_STATIC = 'static';
    public const INPUT_INSTANCE = 'instance';
    public const INPUT_NONE = 'none';

    /** @var (\Closure(?string): void)|null sets the private static Request::$cachedInput */
    private static ?\Closure $cachedInput = null;

    /** How this core's Request caches php://input (see inputCache()). */
    private static ?string $inputCache = null;

    /** Whether the pool classes exist (checked until they do: classes are never unloaded). */
    private static bool $psr7Pool = false;
    private static bool $headerPool = false;

    public function __construct(private readonly ?RouterCaches $routerCaches = null)
    {
    }

    public function reset(): void
    {
        if (self::$psr7Pool || self::$psr7Pool = class_exists(Psr7Pool::class)) {
            Psr7Pool::clearPools();
        }
        if (self::$headerPool || self::$headerPool = class_exists(HeaderPool::class)) {
            HeaderPool::clearAll();
        }
        self::setCachedInput(null);
        $this->routerCaches?->clear();
    }

    /**
     * Sets what PivotPHP's Request believes `php://input` holds (empty in the CLI), when that
     * belief is process-wide (a static property); a no-op otherwise.
     *
     * @return bool whether it was set (the cache is static)
     */
    public static function setCachedInput(?string $body): bool
    {
        if (self::inputCache() !== self::INPUT_STATIC) {
            return false;
        }
        (self::$cachedInput ??= \Closure::bind(static function (?string $body): void {
            self::$cachedInput = $body;
        }, null, PivotRequest::class))($body);

        return true;
    }

    /**
     * `Request::$cachedInput`: {@see self::INPUT_STATIC} (core up to 2.x), {@see self::INPUT_INSTANCE}
     * (a property of each Request, 3.0 on) or {@see self::INPUT_NONE}.
     */
    public static function inputCache(): string
    {
        if (self::$inputCache === null) {
            if (!class_exists(PivotRequest::class) || !property_exists(PivotRequest::class, 'cachedInput')) {
                self::$inputCache = self::INPUT_NONE;
            } else {
                self::$inputCache = (new \ReflectionProperty(PivotRequest::class, 'cachedInput'))->isStatic()
                    ? self::INPUT_STATIC
                    : self::INPUT_INSTANCE;
            }
        }

        return self::$inputCache;
    }
}
