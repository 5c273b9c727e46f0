<?php

declare(strict_types=1);

namespace PivotPHP\Runtime\RoadRunner\Broadcast;

use PivotPHP\Runtime\RoadRunner\Rpc\RpcClient;
use PivotPHP\Runtime\RoadRunner\Rpc\RpcException;
use PivotPHP\Runtime\RoadRunner\Rpc\RpcInterface;

/**
 * Real-time broadcast through pivot (`pivot.broadcast` in .rr.yaml): rr holds the WebSocket
 * and SSE connections, PHP publishes over RPC, from HTTP workers and job consumers alike.
 *
 * A message is a string; browsers receive it as a JSON string (`push.pub.data`), so send
 * json_encode($data) and JSON.parse it on the page for structures.
 *
 * Who may connect and subscribe is decided by the auth route (`pivot.broadcast.auth_route`,
 * default /broadcast/auth): answer it with {@see self::allow()} or {@see self::deny()}.
 */
final class Broadcast
{
    public function __construct(private readonly RpcInterface $rpc)
    {
    }

    /** A client reached through `RR_RPC` (what RoadRunner gives its workers). */
    public static function fromEnvironment(): self
    {
        return new self(RpcClient::fromEnvironment());
    }

    /**
     * Sends $message to every subscriber of each channel, on every rr instance sharing the
     * broker. It returns once rr has queued it: a slow client never slows the publisher.
     *
     * @param string|list<string> $channels
     */
    public function publish(string|array $channels, string $message): void
    {
        $channels = is_string($channels) ? [$channels] : array_values($channels);
        if ($channels === []) {
            throw new \InvalidArgumentException('Broadcast::publish needs at least one channel');
        }
        foreach ($channels as $channel) {
            if (!is_string($channel) || $channel === '') {
                throw new \InvalidArgumentException('Broadcast channel names must be non-empty strings');
            }
        }
        $this->call('pivot.BroadcastPublish', 'publish', ['channels' => $channels, 'message' => $message]);
    }

    /**
     * The connections subscribed to $channel now.
     *
     * @return list<array{client: string, user: string}>
     */
    public function presence(string $channel): array
    {
        if ($channel === '') {
            throw new \InvalidArgumentException('Broadcast channel names must be non-empty strings');
        }
        $reply = $this->call('pivot.BroadcastPresence', 'presence', $channel);
        $list = [];
        foreach (is_array($reply) ? $reply : [] as $entry) {
            $list[] = ['client' => (string) ($entry['client'] ?? ''), 'user' => (string) ($entry['user'] ?? '')];
        }

        return $list;
    }

    /** Closes every connection of $user (close code 3503: the client should not reconnect by itself). */
    public function disconnect(string $user): void
    {
        if ($user === '') {
            throw new \InvalidArgumentException('Broadcast::disconnect needs a user id (anonymous clients have none)');
        }
        $this->call('pivot.BroadcastDisconnect', 'disconnect', $user);
    }

    /**
     * The auth route's answer that allows: on connect, $user becomes the connection's user id
     * and $channels are subscribed at once; on subscribe only the verdict counts.
     *
     * @param list<string> $channels
     */
    public static function allow(string $user = '', array $channels = [], mixed $info = null): string
    {
        $answer = ['allow' => true, 'user' => $user, 'channels' => array_values($channels)];
        if ($info !== null) {
            $answer['info'] = $info;
        }

        return json_encode($answer, JSON_UNESCAPED_SLASHES | JSON_UNESCAPED_UNICODE | JSON_THROW_ON_ERROR);
    }

    /** The auth route's answer that denies (the client gets 403, or error 103 for a subscription). */
    public static function deny(string $reason = 'denied'): string
    {
        return json_encode(['allow' => false, 'reason' => $reason], JSON_UNESCAPED_SLASHES | JSON_UNESCAPED_UNICODE | JSON_THROW_ON_ERROR);
    }

    private function call(string $method, string $operation, mixed $argument): mixed
    {
        try {
            return $this->rpc->call($method, $argument);
        } catch (RpcException $e) {
            throw new BroadcastException($operation, $e);
        }
    }
}
