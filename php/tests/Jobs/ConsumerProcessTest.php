<?php

declare(strict_types=1);

namespace PivotPHP\Runtime\RoadRunner\Tests\Jobs;

use PHPUnit\Framework\TestCase;
use PivotPHP\Runtime\RoadRunner\Goridge\Frame;
use PivotPHP\Runtime\RoadRunner\Tests\Support\FakeRoadRunner;
use PivotPHP\Runtime\RoadRunner\Tests\Support\FakeRpcServer;
use PivotPHP\Runtime\RoadRunner\Tests\Support\WorkerProcess;

/**
 * tests/fixtures/jobs-consumer.php as a real process, sent jobs exactly as the jobs plugin
 * sends them (CODEC_RAW, the driver's context JSON, the payload as body), answers read back
 * from its STDOUT (wire-protocol.md §4).
 */
final class ConsumerProcessTest extends TestCase
{
    private const SCRIPT = __DIR__ . '/../fixtures/jobs-consumer.php';

    private string $state;
    private FakeRpcServer $rpc;

    protected function setUp(): void
    {
        $this->state = sys_get_temp_dir() . '/consumer-test-' . bin2hex(random_bytes(4));
        $this->rpc = new FakeRpcServer();
    }

    protected function tearDown(): void
    {
        exec('rm -rf ' . escapeshellarg($this->state));
    }

    private function consumer(array $env = []): WorkerProcess
    {
        $worker = new WorkerProcess(self::SCRIPT, $env + [
            'RR_MODE' => 'jobs',
            'RR_RPC' => $this->rpc->address,
            'PIVOT_JOBS_DIR' => $this->state,
        ]);
        $worker->handshake();

        return $worker;
    }

    private static function context(string $id, string $job, string $driver = 'memory', ?array $headers = []): string
    {
        // As the drivers build it; headers are {} when empty, null after some requeues.
        $context = [
            'id' => $id,
            'job' => $job,
            'driver' => $driver,
            'headers' => $headers === null ? null : (object) $headers,
            'pipeline' => 'p-' . $driver,
        ];
        if ($driver === 'boltdb') {
            $context['queue'] = 'push';
        }

        return json_encode($context, JSON_THROW_ON_ERROR);
    }

    /** Sends one task and returns the decoded answer body (asserting the frame shape). */
    private static function task(WorkerProcess $worker, string $context, string $payload = ''): array
    {
        $worker->roadRunner->sendRequest($context, $payload, Frame::CODEC_RAW);
        $frame = $worker->roadRunner->receive();
        [$answerContext, $body] = FakeRoadRunner::split($frame);

        self::assertSame('', $answerContext, 'answers carry an empty context');
        self::assertSame([0], $frame->options);
        self::assertSame(
            0,
            $frame->flags & (Frame::ERROR | Frame::CONTROL),
            'never an ERROR frame (that would be a nack)',
        );

        return json_decode($body, true, 512, JSON_THROW_ON_ERROR);
    }

    public function testSuccessIsAnAck(): void
    {
        $worker = $this->consumer();

        self::assertSame(['type' => 0, 'data' => []], self::task($worker, self::context('j1', 'ok')));
        self::assertSame(['type' => 0, 'data' => []], self::task($worker, self::context('j2', 'json'), '{"x":1}'));
        self::assertStringContainsString('ok j1 attempt 1', $worker->stderr());
        self::assertStringContainsString('stray output from a handler', $worker->stderr());
    }

    public function testFailureIsRequeuedWithTheDelayAndTheNextAttemptNumber(): void
    {
        $worker = $this->consumer();
        $answer = self::task(
            $worker,
            self::context('j1', 'boom', 'memory', ['Traceparent' => ['00-abc'], 'h' => ['a', 'b']]),
        );

        self::assertSame(1, $answer['type']);
        self::assertTrue($answer['data']['requeue']);
        self::assertSame(7, $answer['data']['delay_seconds']);
        self::assertSame(
            ['Traceparent' => ['00-abc'], 'h' => ['a', 'b'], 'X-Attempt' => ['2']],
            $answer['data']['headers'],
            'requeue replaces headers: keep them all',
        );
        self::assertStringContainsString(
            'job "boom" (id j1, pipeline p-memory, attempt 1) failed, retry 1 of 2 in 7 s: RuntimeException: boom on attempt 1',
            $answer['data']['message'],
        );
    }

    public function testLastAttemptFailsWithoutRequeue(): void
    {
        $worker = $this->consumer();
        $answer = self::task($worker, self::context('j1', 'boom', 'memory', ['X-Attempt' => ['3']]));

        self::assertSame(['type' => 1, 'data' => [
            'message' => $answer['data']['message'],
            'requeue' => false,
            'delay_seconds' => 0,
        ]], $answer);
        self::assertStringContainsString(
            'failed after 3 attempts, giving up: RuntimeException: boom on attempt 3',
            $answer['data']['message'],
        );
    }

    public function testIdempotentHandlerRunsItsEffectOncePerJobId(): void
    {
        $worker = $this->consumer(['PIVOT_JOBS_DIR' => $this->state]);

        self::assertSame(['type' => 0, 'data' => []], self::task($worker, self::context('j1', 'once', 'amqp')));
        self::assertSame(['type' => 0, 'data' => []], self::task($worker, self::context('j1', 'once', 'amqp')), 'a repeat is acked');
        self::assertSame(['type' => 0, 'data' => []], self::task($worker, self::context('j2', 'once', 'amqp')));
        $worker->closeStdin();
        $worker->waitForExit();
        self::assertSame(1, substr_count($worker->stderr(), 'effect j1'));
        self::assertSame(1, substr_count($worker->stderr(), 'effect j2'));
    }

    public function testJobInProgressIsRequeuedWithoutSpendingAnAttempt(): void
    {
        $worker = $this->consumer();
        $answer = self::task($worker, self::context('j1', 'busy', 'amqp', ['X-Attempt' => ['2'], 'h' => ['v']]));

        self::assertTrue($answer['data']['requeue']);
        self::assertSame(9, $answer['data']['delay_seconds']);
        self::assertSame(['X-Attempt' => ['2'], 'h' => ['v']], $answer['data']['headers'], 'same attempt number');
        self::assertStringContainsString(
            'job "busy" (id j1, pipeline p-amqp, attempt 2) is being handled by host/123/abc; requeued for 9 s, attempt not counted',
            $answer['data']['message'],
        );
    }

    public function testPermanentFailureAndBadPayloadAreNotRetried(): void
    {
        $worker = $this->consumer();

        $answer = self::task($worker, self::context('j1', 'permanent'));
        self::assertFalse($answer['data']['requeue']);
        self::assertStringContainsString(
            'failed permanently: PivotPHP\Runtime\RoadRunner\Jobs\PermanentFailureException: bad input',
            $answer['data']['message'],
        );

        $answer = self::task($worker, self::context('j2', 'json'), 'not json');
        self::assertFalse($answer['data']['requeue']);
        self::assertStringContainsString(
            'The payload of job "json" (id j2, pipeline p-memory, attempt 1) is not JSON',
            $answer['data']['message'],
        );
    }

    public function testUnknownJobFailsClearlyAndTheWorkerKeepsServing(): void
    {
        $worker = $this->consumer();
        $answer = self::task($worker, self::context('j1', 'nope'));

        self::assertSame(1, $answer['type']);
        self::assertFalse($answer['data']['requeue']);
        self::assertSame(
            'No handler registered for job "nope" (id j1, pipeline p-memory); this worker handles: boom, busy, crash, json, ok, once, permanent',
            $answer['data']['message'],
        );
        self::assertStringContainsString('No handler registered for job "nope"', $worker->stderr());

        self::assertSame(0, self::task($worker, self::context('j2', 'ok'))['type']);
        self::assertTrue($worker->isRunning());
    }

    public function testUnreadableTaskFailsAndTheWorkerKeepsServing(): void
    {
        $worker = $this->consumer();

        $answer = self::task($worker, '{"not":"a task"}');
        self::assertFalse($answer['data']['requeue']);
        self::assertStringContainsString('The task context lacks "id" or "job"', $answer['data']['message']);
        self::assertSame(0, self::task($worker, self::context('j2', 'ok'))['type']);
    }

    public function testAttemptsAreCountedWhenTheDriverLosesHeaders(): void
    {
        // boltdb hands back jobs without any header, X-Attempt included.
        $worker = $this->consumer();
        $messages = [];
        foreach ([true, true, false] as $requeue) {
            $answer = self::task($worker, self::context('b1', 'boom', 'boltdb', null));
            self::assertSame($requeue, $answer['data']['requeue']);
            $messages[] = $answer['data']['message'];
        }

        self::assertStringContainsString('attempt 1) failed, retry 1 of 2', $messages[0]);
        self::assertStringContainsString('attempt 2) failed, retry 2 of 2', $messages[1]);
        self::assertStringContainsString('failed after 3 attempts, giving up', $messages[2]);
        self::assertSame([], glob($this->state . '/attempts/*'), 'the counter is forgotten once the job is done');
    }

    public function testJobOfAWorkerThatDiedIsRedispatchedByTheNextWorker(): void
    {
        $worker = $this->consumer();
        $worker->roadRunner->sendRequest(
            self::context('j-crash', 'crash', 'memory', ['h' => ['v']]),
            '{"x":1}',
            Frame::CODEC_RAW,
        );
        self::assertSame(3, $worker->waitForExit());
        self::assertCount(1, glob($this->state . '/in-flight/*.job'), 'the in-flight job stays in the journal');

        $this->consumer(); // RoadRunner starts a replacement, which recovers on start

        $pushes = array_values(
            array_filter($this->rpc->calls(), static fn (array $c): bool => $c['method'] === 'jobs.Push'),
        );
        self::assertCount(1, $pushes);
        self::assertSame(['job' => [
            'job' => 'crash',
            'id' => 'j-crash',
            'payload' => base64_encode('{"x":1}'),
            'headers' => ['h' => ['value' => ['v']], 'X-Crash-Recoveries' => ['value' => ['1']]],
            'options' => ['pipeline' => 'p-memory'],
        ]], json_decode($pushes[0]['body'], true));
        self::assertSame([], glob($this->state . '/in-flight/*'), 'recovered entries are removed');
    }

    public function testAnsweredJobsLeaveNoJournalEntryAndBoltdbIsNotJournaled(): void
    {
        $worker = $this->consumer();
        self::task($worker, self::context('j1', 'ok'));
        self::task($worker, self::context('j2', 'boom'));
        // Entries go once the answer is out; one more (unjournaled) task makes sure that happened.
        self::task($worker, self::context('b0', 'ok', 'boltdb', null));
        self::assertSame([], glob($this->state . '/in-flight/*'));

        // boltdb puts back the job of a dead worker itself: journaling it would run it twice.
        $worker->roadRunner->sendRequest(self::context('b1', 'crash', 'boltdb', null), '', Frame::CODEC_RAW);
        self::assertSame(3, $worker->waitForExit());
        self::assertSame([], glob($this->state . '/in-flight/*'));
    }

    public function testWorkerManagerLimitsApplyAsForHttp(): void
    {
        // max_requests counts tasks; the third task is handed back and the worker stops.
        $worker = $this->consumer(['PIVOT_MAX_REQUESTS' => '2']);
        self::assertSame(0, self::task($worker, self::context('j1', 'ok'))['type']);
        self::assertSame(1, self::task($worker, self::context('j2', 'boom'))['type'], 'failures count too');

        $worker->roadRunner->sendRequest(self::context('j3', 'ok'), '', Frame::CODEC_RAW);
        [$context] = FakeRoadRunner::split($worker->roadRunner->receive());
        self::assertSame('{"stop":true}', $context);
        $worker->roadRunner->sendStopCommand();
        self::assertSame(0, $worker->waitForExit());
        self::assertStringContainsString(
            'Replacing this jobs worker (pid ' . $worker->pid . '): it served 2 requests (max_requests 2)',
            $worker->stderr(),
        );
        self::assertStringNotContainsString('ok j3', $worker->stderr());
    }

    public function testWorkerLimitHandsTheNextTaskBackAndStops(): void
    {
        $worker = $this->consumer(['CONSUMER_MAX_TASKS' => '1']);
        self::assertSame(0, self::task($worker, self::context('j1', 'ok'))['type']);

        // The next task is declined with {"stop":true}: RoadRunner runs it on a fresh worker.
        $worker->roadRunner->sendRequest(self::context('j2', 'ok'), '', Frame::CODEC_RAW);
        [$context, $body] = FakeRoadRunner::split($worker->roadRunner->receive());
        self::assertSame('{"stop":true}', $context);
        self::assertSame('', $body);

        $worker->roadRunner->sendStopCommand();
        self::assertSame(0, $worker->waitForExit());
        self::assertStringNotContainsString('ok j2', $worker->stderr());
        self::assertStringContainsString(
            'Replacing this jobs worker (pid ' . $worker->pid . '): it served 1 tasks',
            $worker->stderr(),
        );
        self::assertSame('', $worker->remainingStdout(), 'nothing but frames on STDOUT');
    }
}
