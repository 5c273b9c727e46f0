<?php

declare(strict_types=1);

namespace PivotPHP\Runtime\RoadRunner\KV;

use PivotPHP\Runtime\RoadRunner\Rpc\RpcClient;
use PivotPHP\Runtime\RoadRunner\Rpc\RpcException;
use PivotPHP\Runtime\RoadRunner\Rpc\RpcInterface;

/**
 * One KV storage declared in .rr.yaml (`kv: {<name>: {driver: memory|boltdb|redis|memcached, config: …}}`),
 * through RoadRunner's kv.* RPC with the JSON codec (wire-protocol.md §5.4).
 *
 * Values go through a {@see ValueCodecInterface} ({@see TaggedValueCodec} by default).
 *
 * TTLs are whole seconds. RoadRunner's drivers take an absolute RFC 3339 time with
 * one-second precision, so the expiry sent is now + $ttl + 0.5 s rounded up to the second:
 * a key lives at least $ttl seconds and expires within $ttl + 1.5 s. The half second keeps
 * the call's latency from shortening the TTL. (RoadRunner's own memory driver v4.6.16
 * crashed on an expiry less than a second away and kept a key forever when it was past; this
 * project's rr ships a wrapped one, plugins/memory, that expires such keys at once.) boltdb
 * deletes expired keys only every `interval` seconds of its config (60 by default), so they
 * can be read until then.
 */
final class Storage
{
    /** @var \Closure(): float */
    private readonly \Closure $clock;
    private readonly ValueCodecInterface $codec;

    public function __construct(
        private readonly RpcInterface $rpc,
        public readonly string $name,
        ?ValueCodecInterface $codec = null,
        ?\Closure $clock = null,
    ) {
        if (trim($name) === '') {
            throw new \InvalidArgumentException(
                'KV storage name must not be empty (it is a key under `kv:` in .rr.yaml)',
            );
        }
        $this->codec = $codec ?? new TaggedValueCodec();
        $this->clock = $clock ?? static fn (): float => microtime(true);
    }

    /** A storage reached through `RR_RPC` (what RoadRunner gives its workers). */
    public static function fromEnvironment(string $name, ?ValueCodecInterface $codec = null): self
    {
        return new self(RpcClient::fromEnvironment(), $name, $codec);
    }

    public function get(string $key, mixed $default = null): mixed
    {
        return $this->fetch([$key], $default, 'get')[$key];
    }

    /**
     * @param iterable<string> $keys
     *
     * @return array<string, mixed> every requested key, $default for missing ones, in request order
     */
    public function mget(iterable $keys, mixed $default = null): array
    {
        return $this->fetch($keys, $default, 'mget');
    }

    /**
     * @param iterable<string> $keys
     *
     * @return array<string, mixed>
     */
    private function fetch(iterable $keys, mixed $default, string $operation): array
    {
        $keys = $this->keys($keys);
        if ($keys === []) {
            return [];
        }
        // RoadRunner has no kv.Get: MGet answers with the keys that exist, in any order.
        $reply = $this->call(
            'kv.MGet',
            $operation,
            $this->request(array_map(static fn (string $k): array => ['key' => $k], $keys)),
        );

        $found = [];
        foreach ($reply['items'] ?? [] as $item) {
            $found[(string) $item['key']] = self::bytes($item['value'] ?? '');
        }
        $result = [];
        foreach ($keys as $key) {
            $result[$key] = array_key_exists($key, $found) ? $this->codec->decode($found[$key]) : $default;
        }

        return $result;
    }

    /** @param int|null $ttl seconds (at least 1), null for no expiry */
    public function set(string $key, mixed $value, ?int $ttl = null): void
    {
        $this->mset([$key => $value], $ttl);
    }

    /**
     * @param iterable<string|int, mixed> $values key => value
     * @param int|null                    $ttl    seconds (at least 1), null for no expiry
     */
    public function mset(iterable $values, ?int $ttl = null): void
    {
        $timeout = $this->timeout($ttl);
        $items = [];
        foreach ($values as $key => $value) {
            $key = $this->key((string) $key);
            $item = ['key' => $key, 'value' => base64_encode($this->codec->encode($value))];
            if ($timeout !== null) {
                $item['timeout'] = $timeout;
            }
            $items[] = $item;
        }
        if ($items !== []) {
            $this->call('kv.Set', 'set', $this->request($items));
        }
    }

    public function has(string $key): bool
    {
        $reply = $this->call('kv.Has', 'has', $this->request([['key' => $this->key($key)]]));
        foreach ($reply['items'] ?? [] as $item) {
            if (($item['key'] ?? null) === $key) {
                return true;
            }
        }

        return false;
    }

    public function delete(string ...$keys): void
    {
        $keys = $this->keys($keys);
        if ($keys !== []) {
            $this->call(
                'kv.Delete',
                'delete',
                $this->request(array_map(static fn (string $k): array => ['key' => $k], $keys)),
            );
        }
    }

    /** Removes every key of this storage (Redis: FLUSHDB of its database; memcached: flush_all). */
    public function clear(): void
    {
        $this->call('kv.Clear', 'clear', ['storage' => $this->name]);
    }

    /**
     * Whole seconds until $key expires, rounded down (0: within a second); null when the key
     * does not exist or has no TTL. Right after set($key, $v, $ttl) it is $ttl or $ttl + 1
     * (see the class comment). memcached cannot report TTLs: a StorageException says so.
     */
    public function ttl(string $key): ?int
    {
        $expiresAt = $this->expiresAt($key);
        if ($expiresAt === null) {
            return null;
        }

        return max(0, (int) floor((float) $expiresAt->format('U.u') - ($this->clock)()));
    }

    /** When $key expires; null when it does not exist or has no TTL. */
    public function expiresAt(string $key): ?\DateTimeImmutable
    {
        $reply = $this->call('kv.TTL', 'ttl', $this->request([['key' => $this->key($key)]]));
        foreach ($reply['items'] ?? [] as $item) {
            if (($item['key'] ?? null) !== $key || ($item['timeout'] ?? '') === '') {
                continue;
            }
            $time = \DateTimeImmutable::createFromFormat(\DateTimeInterface::RFC3339, $item['timeout'])
                ?: \DateTimeImmutable::createFromFormat(\DateTimeInterface::RFC3339_EXTENDED, $item['timeout']);
            if ($time === false) {
                throw new InvalidValueException(
                    sprintf(
                        'KV storage "%s" reported an unreadable TTL "%s" for "%s"',
                        $this->name,
                        $item['timeout'],
                        $key,
                    ),
                );
            }

            return $time;
        }

        return null;
    }

    /** @param list<array<string, string>> $items */
    private function request(array $items): array
    {
        return ['storage' => $this->name, 'items' => $items];
    }

    private function call(string $method, string $operation, array $request): array
    {
        try {
            $reply = $this->rpc->call($method, $request);
        } catch (RpcException $e) {
            throw new StorageException($this->name, $operation, $e);
        }

        return is_array($reply) ? $reply : [];
    }

    private function timeout(?int $ttl): ?string
    {
        if ($ttl === null) {
            return null;
        }
        if ($ttl < 1) {
            throw new \InvalidArgumentException(
                sprintf('KV TTL must be at least 1 second (null for no expiry), got %d', $ttl),
            );
        }

        // Seconds precision on the wire: round up, with half a second of margin so the driver
        // never sees an expiry less than $ttl away (and RoadRunner's unwrapped memory driver,
        // in other builds, never one it would crash on).
        return gmdate('Y-m-d\TH:i:s\Z', (int) ceil(($this->clock)() + $ttl + 0.5));
    }

    /**
     * @param iterable<string> $keys
     *
     * @return list<string> validated, without duplicates
     */
    private function keys(iterable $keys): array
    {
        $result = [];
        foreach ($keys as $key) {
            $result[$this->key($key)] = true;
        }

        return array_map('strval', array_keys($result));
    }

    private function key(string $key): string
    {
        if (trim($key) === '') {
            throw new \InvalidArgumentException('KV keys must not be empty or whitespace (RoadRunner refuses them)');
        }

        return $key;
    }

    private static function bytes(string $base64): string
    {
        $bytes = base64_decode($base64, true);
        if ($bytes === false) {
            throw new InvalidValueException('RoadRunner returned a KV value that is not base64');
        }

        return $bytes;
    }
}
