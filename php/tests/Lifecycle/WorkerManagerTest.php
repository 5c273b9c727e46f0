<?php

declare(strict_types=1);

namespace PivotPHP\Runtime\RoadRunner\Tests\Lifecycle;

use PHPUnit\Framework\TestCase;
use PivotPHP\Runtime\RoadRunner\Lifecycle\Config;
use PivotPHP\Runtime\RoadRunner\Lifecycle\WorkerManager;

final class WorkerManagerTest extends TestCase
{
    private float $now = 1000.0;
    private int $memory = 10_000_000;
    private int $collections = 0;

    /** Bytes a collection frees. */
    private int $garbage = 0;

    public function testRecyclesAfterMaxRequests(): void
    {
        $manager = $this->manager(new Config(maxRequests: 3, memoryLimit: 0, ttl: 0, gcThreshold: 0));

        $manager->requestFinished();
        $manager->requestFinished();
        self::assertFalse($manager->shouldRecycle());

        $manager->requestFinished();
        self::assertTrue($manager->shouldRecycle());
        self::assertSame('served 3 requests (max_requests 3)', $manager->recycleReason());
        self::assertSame(3, $manager->requests());
    }

    public function testZeroMeansNoLimit(): void
    {
        $manager = $this->manager(new Config(maxRequests: 0, memoryLimit: 0, ttl: 0, gcThreshold: 0));

        for ($i = 0; $i < 5000; ++$i) {
            $manager->requestFinished();
        }
        $this->memory = PHP_INT_MAX;
        $this->now += 1e9;

        self::assertFalse($manager->shouldRecycle());
        self::assertSame(0, $this->collections);
    }

    public function testGarbageAboveTheMemoryLimitIsCollectedNotRecycled(): void
    {
        $manager = $this->manager(new Config(maxRequests: 0, memoryLimit: 20_000_000, ttl: 0, gcThreshold: 0));

        $this->memory = 25_000_000;
        $this->garbage = 10_000_000; // a collection brings it back to 15 MB
        $manager->requestFinished();

        self::assertSame(1, $this->collections);
        self::assertFalse($manager->shouldRecycle());
    }

    public function testRecyclesWhenStillAboveTheMemoryLimitAfterCollecting(): void
    {
        $manager = $this->manager(new Config(maxRequests: 0, memoryLimit: 20_000_000, ttl: 0, gcThreshold: 0));

        $this->memory = 30_000_000;
        $this->garbage = 1_000_000;
        $manager->requestFinished();

        self::assertSame(1, $this->collections);
        self::assertTrue($manager->shouldRecycle());
        self::assertSame('uses 27.7 MB after garbage collection (memory_limit 19.1 MB)', $manager->recycleReason());
    }

    public function testCollectsGarbageOnlyWhenMemoryGrewByTheThreshold(): void
    {
        $manager = $this->manager(new Config(maxRequests: 0, memoryLimit: 0, ttl: 0, gcThreshold: 1_000_000));

        $this->memory += 999_999;
        $manager->requestFinished();
        self::assertSame(0, $this->collections, 'below the threshold a collection does not pay');

        $this->memory += 1;
        $this->garbage = 800_000;
        $manager->requestFinished();
        self::assertSame(1, $this->collections);

        // The baseline is now the memory after that collection (10.2 MB).
        $this->memory += 900_000;
        $manager->requestFinished();
        self::assertSame(1, $this->collections);
        $this->memory += 100_000;
        $manager->requestFinished();
        self::assertSame(2, $this->collections);

        $metrics = $manager->metrics();
        self::assertSame(2, $metrics['gc_runs']);
        self::assertSame(2 * 7, $metrics['gc_collected']);
        self::assertFalse($manager->shouldRecycle());
    }

    public function testRecyclesPastTtlEvenBeforeAnyRequest(): void
    {
        $manager = $this->manager(new Config(maxRequests: 0, memoryLimit: 0, ttl: 60, gcThreshold: 0));

        $this->now += 59.9;
        self::assertFalse($manager->shouldRecycle());

        $this->now += 0.1;
        self::assertTrue($manager->shouldRecycle(), 'an idle worker past its ttl declines its next request');
        self::assertSame('is 60 s old (ttl 60 s)', $manager->recycleReason());
    }

    public function testExternalRecycleKeepsTheFirstReason(): void
    {
        $manager = $this->manager(new Config(maxRequests: 1, memoryLimit: 0, ttl: 0, gcThreshold: 0));

        $manager->recycle('could not reset its state');
        $manager->requestFinished();

        self::assertSame('could not reset its state', $manager->recycleReason());
    }

    public function testMetrics(): void
    {
        $manager = $this->manager(new Config(maxRequests: 10, memoryLimit: 50_000_000, ttl: 120, gcThreshold: 0));
        $this->now += 2.5;
        $this->memory = 12_345_678;
        $manager->requestFinished();

        $metrics = $manager->metrics();

        self::assertSame(getmypid(), $metrics['pid']);
        self::assertSame(1, $metrics['requests']);
        self::assertSame(2.5, $metrics['uptime_seconds']);
        self::assertSame(12_345_678, $metrics['memory_bytes']);
        self::assertSame(12_345_678, $metrics['memory_after_last_request_bytes']);
        self::assertGreaterThan(0, $metrics['memory_peak_bytes']);
        self::assertFalse($metrics['recycling']);
        self::assertNull($metrics['recycle_reason']);
        self::assertSame(10, $metrics['max_requests']);
        self::assertSame(50_000_000, $metrics['memory_limit_bytes']);
        self::assertSame(120, $metrics['ttl_seconds']);
    }

    public function testRealDefaultsWork(): void
    {
        $manager = new WorkerManager();
        $manager->requestFinished();

        self::assertFalse($manager->shouldRecycle());
        self::assertSame(1, $manager->metrics()['requests']);
    }

    private function manager(Config $config): WorkerManager
    {
        return new WorkerManager(
            $config,
            fn (): float => $this->now,
            fn (): int => $this->memory,
            function (): int {
                ++$this->collections;
                $this->memory -= $this->garbage;

                return 7;
            },
        );
    }
}
