<?php

declare(strict_types=1);

namespace PivotPHP\Runtime\RoadRunner\Tests\Support;

use PivotPHP\Runtime\RoadRunner\Rpc\RpcInterface;
use PivotPHP\Runtime\RoadRunner\Rpc\ServiceException;

/**
 * RoadRunner's kv.* RPC over an in-memory map, as the memory driver answers it (values as
 * base64 in JSON, RFC 3339 timeouts honoured against $clock). Records every method called.
 */
final class InMemoryKvRpc implements RpcInterface
{
    /** @var array<string, array{value: string, expires: ?float}> */
    public array $items = [];

    /** @var list<string> */
    public array $methods = [];

    /** @var \Closure(): float */
    private \Closure $clock;

    public function __construct(?\Closure $clock = null, public bool $down = false)
    {
        $this->clock = $clock ?? static fn (): float => microtime(true);
    }

    public function call(string $method, mixed $argument = null): mixed
    {
        $this->methods[] = $method;
        if ($this->down) {
            throw new ServiceException($method, 'kv storage is down');
        }
        $argument = json_decode(json_encode($argument, JSON_THROW_ON_ERROR), true);
        $now = ($this->clock)();
        $live = fn (string $key): bool => isset($this->items[$key])
            && ($this->items[$key]['expires'] === null || $this->items[$key]['expires'] > $now);
        $out = [];
        foreach ($argument['items'] ?? [] as $item) {
            $key = $item['key'];
            switch ($method) {
                case 'kv.Set':
                    $expires = isset($item['timeout']) ? (float) (new \DateTimeImmutable($item['timeout']))->format('U.u') : null;
                    $this->items[$key] = ['value' => base64_decode($item['value']), 'expires' => $expires];
                    break;
                case 'kv.MGet':
                    if ($live($key)) {
                        $out[] = ['key' => $key, 'value' => base64_encode($this->items[$key]['value'])];
                    }
                    break;
                case 'kv.Has':
                    if ($live($key)) {
                        $out[] = ['key' => $key];
                    }
                    break;
                case 'kv.Delete':
                    unset($this->items[$key]);
                    break;
                default:
                    throw new ServiceException($method, 'not faked');
            }
        }

        return ['items' => $out];
    }
}
