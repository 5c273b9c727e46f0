<?php

declare(strict_types=1);

namespace PivotPHP\Runtime\RoadRunner\Jobs;

use PivotPHP\Runtime\RoadRunner\Rpc\RpcClient;
use PivotPHP\Runtime\RoadRunner\Rpc\RpcException;
use PivotPHP\Runtime\RoadRunner\Rpc\RpcInterface;

/**
 * Dispatches jobs and manages pipelines through RoadRunner's jobs.* RPC with the JSON codec
 * (wire-protocol.md §5.5).
 *
 *     $jobs = Jobs::fromEnvironment();
 *     $id = $jobs->dispatch('emails', 'send-welcome', ['user' => 42], ['delay' => 10]);
 */
final class Jobs
{
    public function __construct(private readonly RpcInterface $rpc)
    {
    }

    /** Jobs through `RR_RPC` (what RoadRunner gives its workers). */
    public static function fromEnvironment(): self
    {
        return new self(RpcClient::fromEnvironment());
    }

    /**
     * @param array|string         $payload a string as is, an array as JSON
     * @param array<string, mixed> $options delay, priority, headers, auto_ack, id ({@see Job})
     *
     * @return string the job id
     */
    public function dispatch(string $pipeline, string $name, array|string $payload, array $options = []): string
    {
        return $this->push(new Job($pipeline, $name, $payload, $options));
    }

    /** @return string the job id */
    public function push(Job $job): string
    {
        $this->call(
            'jobs.Push',
            ['job' => $job->toRpc()],
            sprintf('Dispatching job "%s" (id %s) to pipeline "%s"', $job->name, $job->id, $job->pipeline),
        );

        return $job->id;
    }

    /**
     * Dispatches several jobs in one call. RoadRunner pushes them in order and stops at the
     * first failure: on an exception, the jobs before the failing one were dispatched.
     *
     * @return list<string> the job ids, in order
     */
    public function dispatchBatch(Job ...$jobs): array
    {
        if ($jobs === []) {
            return [];
        }
        $this->call(
            'jobs.PushBatch',
            ['jobs' => array_map(static fn (Job $job): array => $job->toRpc(), $jobs)],
            sprintf('Dispatching a batch of %d jobs', count($jobs)),
        );

        return array_map(static fn (Job $job): string => $job->id, $jobs);
    }

    /** Stops consuming (jobs keep being accepted and wait). */
    public function pause(string ...$pipelines): void
    {
        $this->call('jobs.Pause', ['pipelines' => self::names($pipelines)], 'Pausing ' . implode(', ', $pipelines));
    }

    /** Starts consuming (also the way to start a pipeline created by declare()). */
    public function resume(string ...$pipelines): void
    {
        $this->call('jobs.Resume', ['pipelines' => self::names($pipelines)], 'Resuming ' . implode(', ', $pipelines));
    }

    /** @return list<string> every pipeline RoadRunner knows, sorted */
    public function list(): array
    {
        $names = array_map('strval', $this->call('jobs.List', null, 'Listing pipelines')['pipelines'] ?? []);
        sort($names);

        return $names;
    }

    /**
     * Creates a pipeline at run time; call resume() to start consuming it.
     *
     * @param array<string, scalar> $config driver options (memory: prefetch; boltdb: file, prefetch)
     */
    public function declare(string $pipeline, string $driver, array $config = [], int $priority = 10): void
    {
        $map = ['driver' => $driver, 'name' => $pipeline, 'priority' => (string) $priority];
        foreach ($config as $key => $value) {
            if (!is_scalar($value)) {
                throw new InvalidJobException(
                    sprintf('Pipeline option "%s" must be a scalar, got %s', $key, get_debug_type($value)),
                );
            }
            $map[(string) $key] = is_bool($value) ? ($value ? 'true' : 'false') : (string) $value;
        }
        self::names([$pipeline, $driver]);
        $this->call(
            'jobs.Declare',
            ['pipeline' => $map],
            sprintf('Declaring pipeline "%s" (driver %s)', $pipeline, $driver),
        );
    }

    /** @return list<string> the destroyed pipelines */
    public function destroy(string ...$pipelines): array
    {
        $reply = $this->call(
            'jobs.Destroy',
            ['pipelines' => self::names($pipelines)],
            'Destroying ' . implode(', ', $pipelines),
        );

        return array_map('strval', $reply['pipelines'] ?? []);
    }

    /** @return array<string, PipelineStat> by pipeline name, sorted */
    public function stat(): array
    {
        $result = [];
        foreach ($this->call('jobs.Stat', null, 'Reading pipeline statistics')['stats'] ?? [] as $stat) {
            $stat = PipelineStat::fromArray($stat);
            $result[$stat->pipeline] = $stat;
        }
        ksort($result);

        return $result;
    }

    private function call(string $method, ?array $argument, string $what): array
    {
        try {
            $reply = $this->rpc->call($method, $argument);
        } catch (RpcException $e) {
            throw new JobsException($what, $e);
        }

        return is_array($reply) ? $reply : [];
    }

    /**
     * @param array<string> $names
     *
     * @return list<string>
     */
    private static function names(array $names): array
    {
        if ($names === []) {
            throw new InvalidJobException('Name at least one pipeline');
        }
        foreach ($names as $name) {
            if (trim($name) === '') {
                throw new InvalidJobException('Pipeline and driver names must not be empty');
            }
        }

        return array_values($names);
    }
}
