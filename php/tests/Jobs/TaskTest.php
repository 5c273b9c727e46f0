<?php

declare(strict_types=1);

namespace PivotPHP\Runtime\RoadRunner\Tests\Jobs;

use PHPUnit\Framework\TestCase;
use PivotPHP\Runtime\RoadRunner\Jobs\InvalidTaskException;
use PivotPHP\Runtime\RoadRunner\Jobs\PermanentFailureException;
use PivotPHP\Runtime\RoadRunner\Jobs\RetryPolicy;
use PivotPHP\Runtime\RoadRunner\Jobs\Task;
use PivotPHP\Runtime\RoadRunner\Jobs\TaskResponse;

final class TaskTest extends TestCase
{
    public function testMemoryDriverContext(): void
    {
        // The real memory-driver context from wire-protocol.md §4.1.
        $task = Task::fromPayload(
            '{"id":"job-1","job":"demo","driver":"memory","headers":{"Traceparent":["00-1"],"h":["v"],"x-attempt":["2"]},"pipeline":"test-local"}',
            '{"a":1}',
        );

        self::assertSame(
            ['job-1', 'demo', 'test-local', 'memory', ''],
            [$task->id, $task->name, $task->pipeline, $task->driver, $task->queue],
        );
        self::assertSame(['Traceparent' => ['00-1'], 'h' => ['v'], 'x-attempt' => ['2']], $task->headers);
        self::assertSame('{"a":1}', $task->payload);
        self::assertSame(['a' => 1], $task->json());
        self::assertSame(2, $task->attempt, 'header names are case-insensitive');
        self::assertSame('v', $task->header('H'));
    }

    public function testBoltdbContextWithoutHeaders(): void
    {
        $task = Task::fromPayload(
            '{"id":"b","job":"j","driver":"boltdb","headers":null,"queue":"push","pipeline":"bolt"}',
            "\x00raw",
        );

        self::assertSame([], $task->headers);
        self::assertSame('push', $task->queue);
        self::assertSame("\x00raw", $task->payload);
        self::assertSame(1, $task->attempt);
        self::assertSame(4, $task->withAttempt(4)->attempt);
    }

    /** @return array<string, array{0: string, 1: string}> */
    public static function unreadable(): array
    {
        return [
            'no context' => ['', 'The task has no context'],
            'not JSON' => ['{', 'The task context is not JSON'],
            'no id' => ['{"job":"x"}', 'lacks "id" or "job"'],
        ];
    }

    /** @dataProvider unreadable */
    public function testUnreadableContexts(string $context, string $message): void
    {
        $this->expectException(InvalidTaskException::class);
        $this->expectExceptionMessage($message);

        Task::fromPayload($context, '');
    }

    public function testJsonOfANonJsonPayloadIsAPermanentFailure(): void
    {
        $task = new Task('i', 'n', 'p', 'memory', '', [], '"just a string"');

        $this->expectException(PermanentFailureException::class);
        $this->expectExceptionMessage('The payload of job "n" (id i, pipeline p, attempt 1) is JSON but not an object or array');
        $task->json();
    }

    public function testResponseBodies(): void
    {
        self::assertSame('{"type":0,"data":[]}', TaskResponse::ack());
        self::assertSame(
            '{"type":1,"data":{"message":"nope ✗","requeue":false,"delay_seconds":0}}',
            TaskResponse::fail('nope ✗'),
        );
        self::assertSame(
            '{"type":1,"data":{"message":"again","requeue":true,"delay_seconds":5,"headers":{"attempts":["2"]}}}',
            TaskResponse::requeue('again', 5, ['attempts' => ['2']]),
        );
        self::assertSame(
            '{"type":1,"data":{"message":"x","requeue":true,"delay_seconds":0,"headers":{}}}',
            TaskResponse::requeue('x', -3, []),
        );
        self::assertSame(
            "{\"type\":1,\"data\":{\"message\":\"bad \u{FFFD}\",\"requeue\":false,\"delay_seconds\":0}}",
            TaskResponse::fail("bad \xff"),
            'invalid UTF-8 never breaks the answer',
        );
    }

    public function testRetryPolicy(): void
    {
        $policy = new RetryPolicy(maxAttempts: 4, delaySeconds: 2, multiplier: 3.0, maxDelaySeconds: 10);

        self::assertSame([true, true, true, false], array_map($policy->shouldRetry(...), [1, 2, 3, 4]));
        self::assertSame([2, 6, 10], array_map($policy->delayAfter(...), [1, 2, 3]));
        self::assertFalse(RetryPolicy::never()->shouldRetry(1));

        $this->expectException(\InvalidArgumentException::class);
        new RetryPolicy(maxAttempts: 0);
    }
}
