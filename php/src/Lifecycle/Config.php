<?php

declare(strict_types=1);

namespace PivotPHP\Runtime\RoadRunner\Lifecycle;

/**
 * The runtime's settings for a long-running worker, with defaults that are safe in production.
 *
 * Each setting comes from, in order: the `$config` array given to `serve()`, the environment
 * variable named in {@see self::ENVIRONMENT}, the default. Sizes accept bytes or a PHP-style
 * shorthand (`128M`, `1G`, `512K`); durations accept seconds or `30s`, `15m`, `2h`; 0 turns a
 * limit off.
 */
final class Config
{
    /** Config key => environment variable. */
    public const ENVIRONMENT = [
        'max_requests' => 'PIVOT_MAX_REQUESTS',
        'memory_limit' => 'PIVOT_MEMORY_LIMIT',
        'ttl' => 'PIVOT_TTL',
        'gc_threshold' => 'PIVOT_GC_THRESHOLD',
        'debug' => 'PIVOT_DEBUG',
    ];

    public const DEFAULT_MAX_REQUESTS = 1000;
    public const DEFAULT_MEMORY_LIMIT = 128 * 1024 * 1024;
    public const DEFAULT_TTL = 3600;
    public const DEFAULT_GC_THRESHOLD = 4 * 1024 * 1024;

    /**
     * @param int  $maxRequests  recycle the worker after this many requests (0 = never)
     * @param int  $memoryLimit  recycle when memory_get_usage() stays above this many bytes after
     *                           a garbage collection (0 = never)
     * @param int  $ttl          recycle a worker older than this many seconds (0 = never)
     * @param int  $gcThreshold  run gc_collect_cycles() once memory grew this many bytes since the
     *                           last collection (0 = leave it to PHP)
     * @param bool $debug        put the exception's class and message in 500 bodies
     */
    public function __construct(
        public readonly int $maxRequests = self::DEFAULT_MAX_REQUESTS,
        public readonly int $memoryLimit = self::DEFAULT_MEMORY_LIMIT,
        public readonly int $ttl = self::DEFAULT_TTL,
        public readonly int $gcThreshold = self::DEFAULT_GC_THRESHOLD,
        public readonly bool $debug = false,
    ) {
        $limits = [
            'max_requests' => $maxRequests,
            'memory_limit' => $memoryLimit,
            'ttl' => $ttl,
            'gc_threshold' => $gcThreshold,
        ];
        foreach ($limits as $key => $value) {
            if ($value < 0) {
                throw new InvalidConfigException(sprintf('Config "%s" must be 0 or more, got %d', $key, $value));
            }
        }
    }

    /**
     * @param array<string, mixed>       $config keys of {@see self::ENVIRONMENT}
     * @param array<string, string>|null $env    the environment (default: getenv())
     */
    public static function fromArray(array $config = [], ?array $env = null): self
    {
        foreach (array_keys($config) as $key) {
            if (!is_string($key) || !isset(self::ENVIRONMENT[$key])) {
                throw new InvalidConfigException(self::unknownKeyMessage((string) $key));
            }
        }
        $env ??= getenv();

        $value = static function (string $key) use ($config, $env): array {
            if (array_key_exists($key, $config)) {
                return [$config[$key], sprintf('config "%s"', $key)];
            }
            $name = self::ENVIRONMENT[$key];
            if (isset($env[$name]) && trim((string) $env[$name]) !== '') {
                return [trim((string) $env[$name]), sprintf('environment variable %s', $name)];
            }

            return [null, ''];
        };

        [$maxRequests, $from] = $value('max_requests');
        [$memoryLimit, $memoryFrom] = $value('memory_limit');
        [$ttl, $ttlFrom] = $value('ttl');
        [$gcThreshold, $gcFrom] = $value('gc_threshold');
        [$debug, $debugFrom] = $value('debug');

        return new self(
            $maxRequests === null ? self::DEFAULT_MAX_REQUESTS : self::count($maxRequests, $from),
            $memoryLimit === null ? self::defaultMemoryLimit() : self::bytes($memoryLimit, $memoryFrom),
            $ttl === null ? self::DEFAULT_TTL : self::seconds($ttl, $ttlFrom),
            $gcThreshold === null ? self::DEFAULT_GC_THRESHOLD : self::bytes($gcThreshold, $gcFrom),
            $debug !== null && self::flag($debug, $debugFrom),
        );
    }

    /**
     * 128 MB, or 90% of PHP's own memory_limit when that is lower: the worker must be replaced
     * before PHP kills it with a fatal error in the middle of a request.
     */
    public static function defaultMemoryLimit(?string $phpLimit = null): int
    {
        $phpLimit ??= (string) ini_get('memory_limit');
        $phpLimit = trim($phpLimit);
        $php = $phpLimit === '' || $phpLimit === '-1' ? 0 : self::bytes($phpLimit, 'memory_limit ini setting');

        return $php > 0 ? min(self::DEFAULT_MEMORY_LIMIT, intdiv($php * 9, 10)) : self::DEFAULT_MEMORY_LIMIT;
    }

    /** @return array<string, int|bool> the settings under their config keys (for logs and metrics) */
    public function toArray(): array
    {
        return [
            'max_requests' => $this->maxRequests,
            'memory_limit' => $this->memoryLimit,
            'ttl' => $this->ttl,
            'gc_threshold' => $this->gcThreshold,
            'debug' => $this->debug,
        ];
    }

    private static function count(mixed $value, string $from): int
    {
        if (is_int($value) && $value >= 0) {
            return $value;
        }
        if (is_string($value) && preg_match('/^\d+$/', $value) === 1) {
            return (int) $value;
        }

        throw new InvalidConfigException(
            sprintf('%s must be a whole number of 0 or more, got %s', $from, self::show($value)),
        );
    }

    private static function bytes(mixed $value, string $from): int
    {
        if (is_int($value) && $value >= 0) {
            return $value;
        }
        if (is_string($value) && preg_match('/^\s*(\d+)\s*([kmg]?)b?\s*$/i', $value, $m) === 1) {
            $factor = match (strtolower($m[2])) {
                'k' => 1024,
                'm' => 1024 ** 2,
                'g' => 1024 ** 3,
                default => 1,
            };

            return (int) $m[1] * $factor;
        }

        throw new InvalidConfigException(sprintf(
            '%s must be a size in bytes or with a K, M or G suffix (e.g. 128M), got %s',
            $from,
            self::show($value),
        ));
    }

    private static function seconds(mixed $value, string $from): int
    {
        if (is_int($value) && $value >= 0) {
            return $value;
        }
        if (is_string($value) && preg_match('/^\s*(\d+)\s*([smh]?)\s*$/i', $value, $m) === 1) {
            $factor = match (strtolower($m[2])) {
                'm' => 60,
                'h' => 3600,
                default => 1,
            };

            return (int) $m[1] * $factor;
        }

        throw new InvalidConfigException(sprintf(
            '%s must be a duration in seconds or with an s, m or h suffix (e.g. 1h), got %s',
            $from,
            self::show($value),
        ));
    }

    private static function flag(mixed $value, string $from): bool
    {
        if (is_bool($value)) {
            return $value;
        }
        if (is_int($value) && ($value === 0 || $value === 1)) {
            return $value === 1;
        }
        if (is_string($value)) {
            $normalized = strtolower(trim($value));
            if (in_array($normalized, ['1', 'true', 'yes', 'on'], true)) {
                return true;
            }
            if (in_array($normalized, ['0', 'false', 'no', 'off', ''], true)) {
                return false;
            }
        }

        throw new InvalidConfigException(
            sprintf('%s must be true or false (1/0, yes/no, on/off), got %s', $from, self::show($value)),
        );
    }

    private static function unknownKeyMessage(string $key): string
    {
        $best = null;
        $bestDistance = PHP_INT_MAX;
        foreach (array_keys(self::ENVIRONMENT) as $known) {
            $distance = levenshtein($key, $known);
            if ($distance < $bestDistance) {
                [$best, $bestDistance] = [$known, $distance];
            }
        }
        $hint = $best !== null && $bestDistance <= 3 ? sprintf(': did you mean "%s"?', $best) : '';

        return sprintf(
            'Unknown config key "%s"%s (known keys: %s)',
            $key,
            $hint,
            implode(', ', array_keys(self::ENVIRONMENT)),
        );
    }

    private static function show(mixed $value): string
    {
        return is_scalar($value) ? var_export($value, true) : get_debug_type($value);
    }
}
