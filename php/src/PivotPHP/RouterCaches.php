<?php

declare(strict_types=1);

namespace PivotPHP\Runtime\RoadRunner\PivotPHP;

/**
 * The static router's per-URL caches, emptied after every request.
 *
 * PivotPHP's router up to core-routing 1.x (the core's own `PivotPHP\Core\Routing\Router` in
 * core 1.x, `pivotphp/core-routing` 1.x under core 2.0 to 3.0) remembers every distinct request
 * path it identified: `Router::$exactMatchCache` and `$prefixMatchCache` (one entry per method and
 * path, `/users/1`, `/users/2`, ...) and `RouteMemoryManager::$routeUsage` (one per path, never
 * trimmed). Under PHP-FPM they die with the request; in a worker they grow with every new URL.
 * They are plain caches (an entry is rebuilt on the next miss: a few microseconds of matching), so
 * they are emptied after each request, as PHP-FPM would. core-routing 2.0 (core 3.1 and 4.x) and
 * 3.0 (core 5.x) have no such caches: nothing to do there.
 */
final class RouterCaches
{
    /** @var list<\ReflectionProperty> static array properties to empty */
    private array $caches = [];

    public function __construct(object $application)
    {
        $router = method_exists($application, 'getRouter') ? $application->getRouter() : null;
        $classes = is_object($router) ? [$router::class] : [];
        foreach ($classes as $class) {
            $this->add($class, 'exactMatchCache');
            $this->add($class, 'prefixMatchCache');
            $namespace = substr($class, 0, (int) strrpos($class, '\\'));
            $this->add($namespace . '\\RouteMemoryManager', 'routeUsage');
        }
    }

    /** @return int how many caches held entries */
    public function clear(): int
    {
        $emptied = 0;
        foreach ($this->caches as $reflection) {
            $value = $reflection->getValue();
            if (is_array($value) && $value !== []) {
                $reflection->setValue(null, []);
                ++$emptied;
            }
        }

        return $emptied;
    }

    /** @return list<string> `Class::$property` of each cache watched */
    public function watched(): array
    {
        return array_map(
            static fn (\ReflectionProperty $c): string => $c->getDeclaringClass()->getName() . '::$' . $c->getName(),
            $this->caches,
        );
    }

    private function add(string $class, string $property): void
    {
        if (!class_exists($class, false) && !class_exists($class)) {
            return;
        }
        if (!property_exists($class, $property)) {
            return;
        }
        $reflection = new \ReflectionProperty($class, $property);
        if ($reflection->isStatic()) {
            $reflection->setAccessible(true);
            $this->caches[] = $reflection;
        }
    }
}
