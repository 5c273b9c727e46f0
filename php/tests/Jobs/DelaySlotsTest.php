<?php

declare(strict_types=1);

namespace PivotPHP\Runtime\RoadRunner\Tests\Jobs;

use PHPUnit\Framework\TestCase;
use PivotPHP\Runtime\RoadRunner\Jobs\DelaySlots;
use PivotPHP\Runtime\RoadRunner\Jobs\Task;

final class DelaySlotsTest extends TestCase
{
    private string $dir;
    private float $now = 1700000000.4;

    protected function setUp(): void
    {
        $this->dir = sys_get_temp_dir() . '/slots-test-' . bin2hex(random_bytes(4));
    }

    protected function tearDown(): void
    {
        exec('rm -rf ' . escapeshellarg($this->dir));
    }

    private function slots(): DelaySlots
    {
        return new DelaySlots($this->dir, fn (): float => $this->now);
    }

    private static function task(string $pipeline = 'bolt', string $driver = 'boltdb'): Task
    {
        return new Task(bin2hex(random_bytes(4)), 'j', $pipeline, $driver, 'push', [], '');
    }

    public function testOnlyBoltdbIsCovered(): void
    {
        self::assertTrue($this->slots()->covers(self::task()));
        self::assertFalse($this->slots()->covers(self::task('mem', 'memory')));
    }

    public function testABurstOfRetriesGetsDistinctDueSecondsTwoApart(): void
    {
        // Each job holds its due second and the next (the driver computes it a bit later).
        $slots = $this->slots();
        self::assertSame(
            [5, 7, 9],
            [$slots->reserve(self::task(), 5), $slots->reserve(self::task(), 5), $slots->reserve(self::task(), 5)],
        );

        // One second later: seconds 5..10 (from the first "now") are taken.
        $this->now += 1;
        self::assertSame(2, $slots->reserve(self::task(), 2), 'due at 3 and 4: free');
        self::assertSame(10, $slots->reserve(self::task(), 4), 'due at 5, 7, 9 taken: 11/12 is the first free pair');
        self::assertSame(3, $slots->reserve(self::task('other'), 3), 'pipelines are independent');
    }

    public function testDelaysNeverShrink(): void
    {
        self::assertSame(60, $this->slots()->reserve(self::task(), 60));
    }
}
