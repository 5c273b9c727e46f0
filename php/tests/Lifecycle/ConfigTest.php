<?php

declare(strict_types=1);

namespace PivotPHP\Runtime\RoadRunner\Tests\Lifecycle;

use PHPUnit\Framework\TestCase;
use PivotPHP\Runtime\RoadRunner\Lifecycle\Config;
use PivotPHP\Runtime\RoadRunner\Lifecycle\InvalidConfigException;

final class ConfigTest extends TestCase
{
    public function testProductionDefaults(): void
    {
        $config = Config::fromArray([], []);

        self::assertSame(1000, $config->maxRequests);
        self::assertSame(Config::defaultMemoryLimit(), $config->memoryLimit);
        self::assertSame(3600, $config->ttl);
        self::assertSame(4 * 1024 * 1024, $config->gcThreshold);
        self::assertFalse($config->debug);
    }

    public function testDefaultMemoryLimitStaysBelowPhpsOwnLimit(): void
    {
        self::assertSame(128 * 1024 * 1024, Config::defaultMemoryLimit('-1'));
        self::assertSame(128 * 1024 * 1024, Config::defaultMemoryLimit('512M'));
        self::assertSame(intdiv(64 * 1024 * 1024 * 9, 10), Config::defaultMemoryLimit('64M'));
    }

    public function testEnvironmentVariables(): void
    {
        $config = Config::fromArray([], [
            'PIVOT_MAX_REQUESTS' => '50',
            'PIVOT_MEMORY_LIMIT' => '256M',
            'PIVOT_TTL' => '15m',
            'PIVOT_GC_THRESHOLD' => '512K',
            'PIVOT_DEBUG' => 'yes',
        ]);

        self::assertSame([
            'max_requests' => 50,
            'memory_limit' => 256 * 1024 * 1024,
            'ttl' => 900,
            'gc_threshold' => 512 * 1024,
            'debug' => true,
        ], $config->toArray());
    }

    public function testConfigArrayWinsOverEnvironment(): void
    {
        $config = Config::fromArray(
            ['max_requests' => 7, 'ttl' => '2h', 'memory_limit' => 1048576, 'debug' => false],
            ['PIVOT_MAX_REQUESTS' => '50', 'PIVOT_TTL' => '10', 'PIVOT_DEBUG' => '1', 'PIVOT_GC_THRESHOLD' => '1G'],
        );

        self::assertSame(7, $config->maxRequests);
        self::assertSame(7200, $config->ttl);
        self::assertSame(1048576, $config->memoryLimit);
        self::assertFalse($config->debug);
        self::assertSame(1024 ** 3, $config->gcThreshold, 'unset keys still come from the environment');
    }

    public function testZeroTurnsLimitsOff(): void
    {
        $config = Config::fromArray(['max_requests' => 0, 'memory_limit' => '0', 'ttl' => '0s', 'gc_threshold' => 0], []);

        self::assertSame([0, 0, 0, 0], [$config->maxRequests, $config->memoryLimit, $config->ttl, $config->gcThreshold]);
    }

    public function testUnknownKeySuggestsTheRightOne(): void
    {
        $this->expectException(InvalidConfigException::class);
        $this->expectExceptionMessage('Unknown config key "max_request": did you mean "max_requests"?');

        Config::fromArray(['max_request' => 10], []);
    }

    /** @dataProvider invalidValues */
    public function testInvalidValuesNameTheirSource(array $config, array $env, string $message): void
    {
        $this->expectException(InvalidConfigException::class);
        $this->expectExceptionMessage($message);

        Config::fromArray($config, $env);
    }

    public static function invalidValues(): iterable
    {
        yield 'negative count' => [
            ['max_requests' => -1],
            [],
            'config "max_requests" must be a whole number of 0 or more, got -1',
        ];
        yield 'count from env' => [
            [],
            ['PIVOT_MAX_REQUESTS' => 'lots'],
            "environment variable PIVOT_MAX_REQUESTS must be a whole number of 0 or more, got 'lots'",
        ];
        yield 'size' => [
            ['memory_limit' => '12T'],
            [],
            'config "memory_limit" must be a size in bytes or with a K, M or G suffix',
        ];
        yield 'duration' => [
            [],
            ['PIVOT_TTL' => '1d'],
            'environment variable PIVOT_TTL must be a duration in seconds or with an s, m or h suffix',
        ];
        yield 'flag' => [['debug' => 'maybe'], [], 'config "debug" must be true or false'];
        yield 'array' => [
            ['gc_threshold' => []],
            [],
            'config "gc_threshold" must be a size in bytes or with a K, M or G suffix (e.g. 128M), got array',
        ];
    }
}
