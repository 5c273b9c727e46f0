<?php

declare(strict_types=1);

namespace PivotPHP\Runtime\RoadRunner\Tests\Jobs;

use PHPUnit\Framework\TestCase;
use PivotPHP\Runtime\RoadRunner\Jobs\Idempotency;
use PivotPHP\Runtime\RoadRunner\Jobs\Idempotency\Claim;
use PivotPHP\Runtime\RoadRunner\Jobs\Idempotency\DirectoryStore;
use PivotPHP\Runtime\RoadRunner\Jobs\Idempotency\IdempotencyException;
use PivotPHP\Runtime\RoadRunner\Jobs\Idempotency\IdempotencyStore;
use PivotPHP\Runtime\RoadRunner\Jobs\Idempotency\KvStore;
use PivotPHP\Runtime\RoadRunner\Jobs\Idempotency\Owner;
use PivotPHP\Runtime\RoadRunner\Jobs\JobInProgressException;
use PivotPHP\Runtime\RoadRunner\Jobs\Task;
use PivotPHP\Runtime\RoadRunner\KV\Storage;
use PivotPHP\Runtime\RoadRunner\Tests\Support\InMemoryKvRpc;

/**
 * Idempotency over both stores: a job id's effect runs once, repeats are dropped, a failed
 * effect can run again, a claim held by a live worker sends the repeat back, one held by a
 * dead worker (or past its lease) is taken over, done records expire with their TTL. The
 * directory store is also hammered by concurrent processes: exactly one effect per id.
 */
final class IdempotencyTest extends TestCase
{
    private string $dir;
    private float $now = 1_700_000_000.0;
    private InMemoryKvRpc $kv;

    protected function setUp(): void
    {
        $this->dir = sys_get_temp_dir() . '/idempotency-test-' . bin2hex(random_bytes(4));
        $this->kv = new InMemoryKvRpc(fn (): float => $this->now);
    }

    protected function tearDown(): void
    {
        exec('rm -rf ' . escapeshellarg($this->dir));
    }

    /** @return iterable<string, array{string}> */
    public static function stores(): iterable
    {
        yield 'directory' => ['directory'];
        yield 'kv' => ['kv'];
    }

    private function store(string $kind): IdempotencyStore
    {
        $clock = fn (): float => $this->now;

        return $kind === 'directory'
            ? new DirectoryStore($this->dir, $clock)
            : new KvStore(new Storage($this->kv, 'jobs-done', null, $clock), 'done:', $clock);
    }

    private function idempotency(IdempotencyStore $store, Owner $owner, int $ttl = 3600, int $lease = 60): Idempotency
    {
        return new Idempotency($store, $ttl, $lease, $owner);
    }

    private static function task(string $id = 'job-1'): Task
    {
        return new Task($id, 'send', 'emails', 'amqp', 'emails', [], 'payload');
    }

    /** A worker on another host: never known dead, only its lease ends its claims. */
    private static function elsewhere(string $token = 'b'): Owner
    {
        return new Owner('another-host', 4242, $token);
    }

    /** @dataProvider stores */
    public function testTheEffectRunsOncePerJobIdAndRepeatsAreDropped(string $kind): void
    {
        $store = $this->store($kind);
        $runs = [];
        $effect = static function (Task $task) use (&$runs): void {
            $runs[] = $task->id;
        };
        $a = $this->idempotency($store, Owner::current());
        $b = $this->idempotency($store, self::elsewhere());

        self::assertTrue($a->run(self::task(), $effect));
        self::assertFalse($a->run(self::task(), $effect), 'the same worker');
        self::assertFalse($b->run(self::task(), $effect), 'another host');
        self::assertTrue($b->run(self::task('job-2'), $effect));
        self::assertSame(['job-1', 'job-2'], $runs);
        self::assertTrue($a->done('job-1'));
        self::assertFalse($a->done('job-3'));

        $a->forget('job-1');
        self::assertFalse($a->done('job-1'));
        self::assertTrue($b->run(self::task(), $effect), 'forgotten: runs again');
    }

    /** @dataProvider stores */
    public function testAFailedEffectReleasesTheClaimSoARetryRunsIt(string $kind): void
    {
        $store = $this->store($kind);
        $a = $this->idempotency($store, Owner::current());
        try {
            $a->run(self::task(), static function (): void {
                throw new \RuntimeException('smtp down');
            });
            self::fail('the exception must reach the consumer');
        } catch (\RuntimeException $e) {
            self::assertSame('smtp down', $e->getMessage());
        }
        self::assertFalse($a->done('job-1'));
        self::assertTrue($this->idempotency($store, self::elsewhere())->run(self::task(), static fn () => null));
    }

    /** @dataProvider stores */
    public function testALiveHolderSendsTheRepeatBackUntilItsLeaseEnds(string $kind): void
    {
        $store = $this->store($kind);
        self::assertSame(Claim::CLAIMED, $store->claim('job-1', self::elsewhere(), 60, 3600)->state);

        $this->now += 20;
        $mine = $this->idempotency($store, Owner::current());
        try {
            $mine->run(self::task(), static fn () => self::fail('must not run while another worker holds it'));
            self::fail('JobInProgressException expected');
        } catch (JobInProgressException $e) {
            self::assertSame('another-host/4242/b', $e->holder);
            self::assertSame(40, $e->retryAfter, 'the rest of the lease');
            self::assertStringContainsString('Job send (id job-1) is being handled by another-host/4242/b; retry in 40 s', $e->getMessage());
        }

        // the holder completes: the repeat is dropped
        $store->complete('job-1', self::elsewhere(), 3600);
        self::assertFalse($mine->run(self::task(), static fn () => self::fail('done elsewhere')));
    }

    /** @dataProvider stores */
    public function testAClaimPastItsLeaseIsTakenOver(string $kind): void
    {
        $store = $this->store($kind);
        $store->claim('job-1', self::elsewhere(), 60, 3600);
        $this->now += 61;
        $claim = $store->claim('job-1', Owner::current(), 60, 3600);
        self::assertSame(Claim::CLAIMED, $claim->state);
        self::assertTrue($claim->tookOver);
    }

    /** @dataProvider stores */
    public function testAClaimOfADeadWorkerOnThisHostIsTakenOverAtOnce(string $kind): void
    {
        $store = $this->store($kind);
        $me = Owner::current();
        $dead = new Owner($me->host, self::deadPid(), 'x');
        $store->claim('job-1', $dead, 300, 3600);
        // the same pid as ours, but an earlier process (pid reused)
        $store->claim('job-2', new Owner($me->host, $me->pid, 'an-earlier-process'), 300, 3600);

        $ran = 0;
        $once = $this->idempotency($store, $me);
        self::assertTrue($once->run(self::task('job-1'), static function () use (&$ran): void {
            $ran++;
        }));
        self::assertTrue($once->run(self::task('job-2'), static function () use (&$ran): void {
            $ran++;
        }));
        self::assertSame(2, $ran);
    }

    /** @dataProvider stores */
    public function testDoneRecordsExpireWithTheirTtl(string $kind): void
    {
        $store = $this->store($kind);
        $once = $this->idempotency($store, Owner::current(), ttl: 10);
        self::assertTrue($once->run(self::task(), static fn () => null));
        $this->now += 9;
        self::assertFalse($once->run(self::task(), static fn () => null));
        $this->now += 2;
        self::assertTrue($once->run(self::task(), static fn () => null), 'remembered for the TTL only');
    }

    public function testWrapMakesAConsumerHandler(): void
    {
        $seen = [];
        $handler = Idempotency::inDirectory($this->dir)->wrap(static function (Task $task) use (&$seen): void {
            $seen[] = $task->id;
        });
        $handler(self::task());
        $handler(self::task());
        self::assertSame(['job-1'], $seen);
    }

    public function testDirectoryPurgeRemovesExpiredRecordsOnly(): void
    {
        $store = new DirectoryStore($this->dir, fn (): float => $this->now);
        $store->complete('old', Owner::current(), 10);
        $store->complete('new', Owner::current(), 100);
        $store->claim('stale-claim', self::elsewhere(), 5, 100);
        $this->now += 20;
        self::assertSame(2, $store->purge());
        self::assertTrue($store->isDone('new'));
        self::assertCount(1, glob($this->dir . '/*/*.json'));
    }

    public function testKvKeysAreSafeForEveryDriver(): void
    {
        $store = new KvStore(new Storage($this->kv, 'jobs-done'));
        self::assertSame('pivot-job-done:6f1c1b9e-0f3a-4d2b-9c47-3b2c8e0f1a2d', $store->key('6f1c1b9e-0f3a-4d2b-9c47-3b2c8e0f1a2d'));
        self::assertSame('pivot-job-done:sha1-' . sha1('with space'), $store->key('with space'));
        self::assertSame('pivot-job-done:sha1-' . sha1(str_repeat('x', 201)), $store->key(str_repeat('x', 201)));
    }

    public function testKvRecordsExpireInTheStorageToo(): void
    {
        $store = new KvStore(new Storage($this->kv, 'jobs-done', null, fn (): float => $this->now), 'done:', fn (): float => $this->now);
        $store->claim('job-1', Owner::current(), 30, 3600);
        $store->complete('job-2', Owner::current(), 600);
        self::assertEqualsWithDelta($this->now + 31.5, $this->kv->items['done:job-1']['expires'], 1.0, 'the lease, plus a second');
        self::assertEqualsWithDelta($this->now + 601.5, $this->kv->items['done:job-2']['expires'], 1.0, 'the TTL, plus a second');
    }

    public function testAStoreFailureSaysWhichStorage(): void
    {
        $this->kv->down = true;
        $this->expectException(IdempotencyException::class);
        $this->expectExceptionMessage('Idempotency (KV storage "jobs-done")');
        Idempotency::inKv(new Storage($this->kv, 'jobs-done'))->run(self::task(), static fn () => null);
    }

    public function testSettingsAreValidated(): void
    {
        $this->expectException(\InvalidArgumentException::class);
        new Idempotency(new DirectoryStore($this->dir), 0);
    }

    /**
     * 6 processes race for the same 40 job ids (each process runs every id): every effect
     * happens exactly once.
     */
    public function testConcurrentProcessesRunEachEffectExactlyOnce(): void
    {
        $effects = $this->dir . '/effects';
        mkdir($effects, 0777, true);
        $autoload = dirname(__DIR__, 2) . '/autoload.php';
        $script = <<<'PHP'
            require $argv[1];
            $once = PivotPHP\Runtime\RoadRunner\Jobs\Idempotency::inDirectory($argv[2] . '/store');
            for ($i = 0; $i < 40; $i++) {
                $task = new PivotPHP\Runtime\RoadRunner\Jobs\Task("job-$i", 'n', 'p', 'amqp', 'q', [], '');
                try {
                    $once->run($task, static function () use ($argv, $i): void {
                        file_put_contents($argv[2] . "/effects/job-$i", getmypid() . "\n", FILE_APPEND | LOCK_EX);
                        usleep(random_int(0, 500));
                    });
                } catch (PivotPHP\Runtime\RoadRunner\Jobs\JobInProgressException) {
                    // another process holds it right now: it completes it
                }
            }
            PHP;
        $procs = [];
        for ($p = 0; $p < 6; $p++) {
            $procs[] = proc_open([PHP_BINARY, '-r', $script, $autoload, $this->dir], [], $pipes);
        }
        foreach ($procs as $proc) {
            self::assertSame(0, proc_close($proc));
        }
        for ($i = 0; $i < 40; $i++) {
            $lines = file($effects . "/job-$i", FILE_IGNORE_NEW_LINES);
            self::assertCount(1, $lines, "job-$i ran " . count($lines) . ' times');
        }
    }

    private static function deadPid(): int
    {
        $proc = proc_open([PHP_BINARY, '-r', 'echo getmypid();'], [1 => ['pipe', 'w']], $pipes);
        $pid = (int) stream_get_contents($pipes[1]);
        fclose($pipes[1]);
        proc_close($proc);

        return $pid;
    }
}
