<?php

declare(strict_types=1);

namespace PivotPHP\Runtime\RoadRunner\Tests\Support;

use PivotPHP\Runtime\RoadRunner\Rpc\RpcCodec;
use PivotPHP\Runtime\RoadRunner\Rpc\RpcException;
use PivotPHP\Runtime\RoadRunner\Rpc\RpcInterface;

/**
 * An RpcInterface that records each call with the exact JSON body the real client would send,
 * and answers from a script: a reply value, or an RpcException to throw.
 */
final class RecordingRpc implements RpcInterface
{
    /** @var list<array{method: string, argument: mixed, json: string}> */
    public array $calls = [];

    /** @var list<mixed> */
    private array $replies = [];

    /** Queues answers for the next calls, in order; without one a call answers null. */
    public function willReturn(mixed ...$replies): self
    {
        array_push($this->replies, ...$replies);

        return $this;
    }

    public function call(string $method, mixed $argument = null): mixed
    {
        $this->calls[] = ['method' => $method, 'argument' => $argument, 'json' => RpcCodec::encodeJson($argument)];
        $reply = array_shift($this->replies);
        if ($reply instanceof RpcException) {
            throw $reply;
        }

        // What the real client returns: the JSON reply decoded as arrays.
        return $reply === null ? null : json_decode(json_encode($reply, JSON_THROW_ON_ERROR), true);
    }

    /** @return list<string> "method json" of each call */
    public function wire(): array
    {
        return array_map(static fn (array $c): string => $c['method'] . ' ' . $c['json'], $this->calls);
    }
}
