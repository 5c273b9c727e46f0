<?php

declare(strict_types=1);

namespace PivotPHP\Runtime\RoadRunner\Tests\Jobs;

use PHPUnit\Framework\TestCase;
use PivotPHP\Runtime\RoadRunner\Jobs\AttemptStore;
use PivotPHP\Runtime\RoadRunner\Jobs\InFlightJournal;
use PivotPHP\Runtime\RoadRunner\Jobs\Jobs;
use PivotPHP\Runtime\RoadRunner\Jobs\Task;
use PivotPHP\Runtime\RoadRunner\Rpc\ConnectionException;
use PivotPHP\Runtime\RoadRunner\Tests\Support\RecordingRpc;

final class InFlightJournalTest extends TestCase
{
    private string $dir;
    private RecordingRpc $rpc;
    /** @var list<string> */
    private array $log = [];

    protected function setUp(): void
    {
        $this->dir = sys_get_temp_dir() . '/journal-test-' . bin2hex(random_bytes(4));
        $this->rpc = new RecordingRpc();
    }

    protected function tearDown(): void
    {
        exec('rm -rf ' . escapeshellarg($this->dir));
    }

    private function journal(bool $ownerAlive = false, int $maxRecoveries = 3): InFlightJournal
    {
        return new InFlightJournal($this->dir, ['memory'], $maxRecoveries, static fn (int $pid): bool => $ownerAlive);
    }

    private function recover(InFlightJournal $journal): int
    {
        return $journal->recover(new Jobs($this->rpc), function (string $line): void {
            $this->log[] = $line;
        });
    }

    private static function task(array $headers = []): Task
    {
        return new Task('id-1', 'mail', 'mem', 'memory', '', $headers, "bin\x00ary");
    }

    /** An entry as a dead worker would have left it. */
    private function orphan(array $headers = []): void
    {
        $this->journal()->record(self::task($headers));
        $file = glob($this->dir . '/*.job')[0];
        $entry = json_decode((string) file_get_contents($file), true);
        $entry['pid'] = 999999999;
        file_put_contents($file, json_encode($entry));
    }

    public function testCoversOnlyTheConfiguredDrivers(): void
    {
        self::assertTrue($this->journal()->covers(self::task()));
        self::assertFalse($this->journal()->covers(new Task('i', 'n', 'p', 'boltdb', '', [], '')));
    }

    public function testRecordAndComplete(): void
    {
        $journal = $this->journal();
        $journal->record(self::task());
        self::assertCount(1, glob($this->dir . '/*.job'));
        $journal->complete(self::task());
        self::assertSame([], glob($this->dir . '/*'));
    }

    public function testOrphansAreRedispatchedWithTheSameIdAndACrashCounter(): void
    {
        $this->orphan(['h' => ['v']]);

        self::assertSame(1, $this->recover($this->journal()));
        self::assertSame(['jobs.Push {"job":{"job":"mail","id":"id-1","payload":"YmluAGFyeQ==",'
            . '"headers":{"h":{"value":["v"]},"X-Crash-Recoveries":{"value":["1"]}},"options":{"pipeline":"mem"}}}'], $this->rpc->wire());
        self::assertSame([], glob($this->dir . '/*'));
        self::assertStringContainsString(
            're-dispatched job "mail" (id id-1, pipeline mem), its worker (pid 999999999) died',
            $this->log[0],
        );
    }

    public function testEntriesOfLiveWorkersAreLeftAlone(): void
    {
        $this->orphan();

        self::assertSame(0, $this->recover($this->journal(ownerAlive: true)));
        self::assertSame([], $this->rpc->calls);
        self::assertCount(1, glob($this->dir . '/*.job'));
    }

    public function testAJobThatKeepsKillingItsWorkerIsDroppedAfterMaxRecoveries(): void
    {
        $this->orphan([InFlightJournal::RECOVERIES_HEADER => ['3']]);

        self::assertSame(0, $this->recover($this->journal()));
        self::assertSame([], $this->rpc->calls);
        self::assertSame([], glob($this->dir . '/*'));
        self::assertStringContainsString('killed its worker 4 times; dropping it', $this->log[0]);
    }

    public function testFailedRedispatchLeavesTheEntryForTheNextWorker(): void
    {
        $this->orphan();
        $this->rpc->willReturn(new ConnectionException('RoadRunner is gone'));

        self::assertSame(0, $this->recover($this->journal()));
        self::assertCount(1, glob($this->dir . '/*.job'));
        self::assertStringContainsString('could not re-dispatch job "mail"', $this->log[0]);

        self::assertSame(1, $this->recover($this->journal()), 'the next attempt succeeds');
    }

    public function testClaimsOfDeadRecoverersAreTakenOver(): void
    {
        $this->orphan();
        $file = glob($this->dir . '/*.job')[0];
        rename($file, $file . '.claim-999999998');

        self::assertSame(0, $this->recover($this->journal(ownerAlive: true)), 'the claimer is alive: its job');
        self::assertSame(1, $this->recover($this->journal()));
    }

    public function testProcessLiveness(): void
    {
        self::assertTrue(InFlightJournal::processIsAlive((int) getmypid()));
        self::assertFalse(InFlightJournal::processIsAlive(0));
        self::assertFalse(InFlightJournal::processIsAlive(999999999));
    }

    public function testAttemptStore(): void
    {
        $store = new AttemptStore($this->dir . '/attempts');
        $task = self::task();

        self::assertSame(1, $store->attemptOf($task));
        $store->recordFailure($task);
        self::assertSame(2, $store->attemptOf($task));
        $store->recordFailure($task->withAttempt(2));
        self::assertSame(3, $store->attemptOf($task));
        $store->forget($task);
        self::assertSame(1, $store->attemptOf($task));
    }
}
