<?php

declare(strict_types=1);

namespace PivotPHP\Runtime\RoadRunner\PivotPHP;

/**
 * Which PivotPHP core release line an application runs on, read at boot from
 * `Application::VERSION` and the shape of `Application::handle()`, and so which path serves it:
 *
 * - {@see self::HYBRID} (core 1.1 to 3.x): the framework's own hybrid `Request`/`Response`,
 *   `handle(?Request): Response`, built from the superglobals: {@see ApplicationHandler};
 * - {@see self::PSR15} (core 4.x and 5.x, pivotphp/http): `handle(ServerRequestInterface):
 *   ResponseInterface`, a PSR-15 handler: {@see Psr15ApplicationHandler}.
 *
 * Anything else (before 1.1, a future major, a shape that does not match its version) is refused
 * with one sentence naming the installed and the supported versions.
 */
final class CoreLine
{
    public const HYBRID = 'hybrid';
    public const PSR15 = 'psr15';

    /** The range the adapter serves, as named in its errors and docs. */
    public const SUPPORTED = 'pivotphp/core 1.1 to 5.x (^1.1 || ^2.0 || ^3.0 || ^4.0 || ^5.0)';

    private const HYBRID_REQUEST = 'PivotPHP\\Core\\Http\\Request';
    private const PSR7_REQUEST = 'Psr\\Http\\Message\\ServerRequestInterface';

    private function __construct(
        public readonly string $version,
        public readonly int $major,
        public readonly string $path,
    ) {
    }

    /**
     * @param object|class-string $application a `PivotPHP\Core\Core\Application` (or its class)
     *
     * @throws UnsupportedCoreException
     */
    public static function of(object|string $application): self
    {
        $class = is_object($application) ? $application::class : $application;
        $version = defined($class . '::VERSION') ? constant($class . '::VERSION') : null;
        if (!is_string($version) || preg_match('/^(\d+)\.(\d+)/', $version, $m) !== 1) {
            throw new UnsupportedCoreException(sprintf(
                'The installed PivotPHP core has no readable version (%s::VERSION is %s); this RoadRunner'
                . ' adapter supports %s.',
                $class,
                is_string($version) ? var_export($version, true) : 'missing',
                self::SUPPORTED,
            ));
        }
        $major = (int) $m[1];
        if ($major < 1 || ($major === 1 && (int) $m[2] < 1) || $major > 5) {
            throw new UnsupportedCoreException(sprintf(
                'PivotPHP core %s is installed; this RoadRunner adapter supports %s.',
                $version,
                self::SUPPORTED,
            ));
        }

        $takes = self::handleParameterType($class);
        $path = $major >= 4 ? self::PSR15 : self::HYBRID;
        $expected = $path === self::PSR15 ? self::PSR7_REQUEST : self::HYBRID_REQUEST;
        if ($takes === null || strcasecmp(ltrim($takes, '\\'), $expected) !== 0) {
            throw new UnsupportedCoreException(sprintf(
                'PivotPHP core %s is installed but its Application::handle() takes %s, not the %s of the'
                . ' %d.x line; this RoadRunner adapter supports %s.',
                $version,
                $takes ?? 'no typed request',
                $expected,
                $major,
                self::SUPPORTED,
            ));
        }

        return new self($version, $major, $path);
    }

    public function isPsr15(): bool
    {
        return $this->path === self::PSR15;
    }

    /** e.g. "PivotPHP core 2.0.0 (hybrid path)" */
    public function describe(): string
    {
        return sprintf('PivotPHP core %s (%s path)', $this->version, $this->path);
    }

    private static function handleParameterType(string $class): ?string
    {
        if (!method_exists($class, 'handle')) {
            return null;
        }
        $parameters = (new \ReflectionMethod($class, 'handle'))->getParameters();
        $type = isset($parameters[0]) ? $parameters[0]->getType() : null;

        return $type instanceof \ReflectionNamedType ? $type->getName() : null;
    }
}
