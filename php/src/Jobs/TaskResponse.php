<?php

declare(strict_types=1);

namespace PivotPHP\Runtime\RoadRunner\Jobs;

/**
 * The response bodies of the jobs worker protocol (wire-protocol.md §4.2), sent with an
 * empty context.
 *
 *     ack      {"type":0,"data":[]}
 *     fail     {"type":1,"data":{"message":"…","requeue":false,"delay_seconds":0}}
 *     requeue  {"type":1,"data":{"message":"…","requeue":true,"delay_seconds":N,"headers":{…}}}
 *
 * In RoadRunner 2023.3 a fail without requeue removes the job (it is acked, and the message
 * is logged); a requeue re-pushes it after N seconds with the given headers, which replace
 * the job's headers.
 */
final class TaskResponse
{
    public const ACK = '{"type":0,"data":[]}';

    private const JSON_FLAGS = JSON_THROW_ON_ERROR | JSON_UNESCAPED_SLASHES | JSON_UNESCAPED_UNICODE
        | JSON_INVALID_UTF8_SUBSTITUTE;

    public static function ack(): string
    {
        return self::ACK;
    }

    public static function fail(string $message): string
    {
        return json_encode(['type' => 1, 'data' => [
            'message' => $message,
            'requeue' => false,
            'delay_seconds' => 0,
        ]], self::JSON_FLAGS);
    }

    /** @param array<string, list<string>> $headers the job's headers after the requeue */
    public static function requeue(string $message, int $delaySeconds, array $headers): string
    {
        return json_encode(['type' => 1, 'data' => [
            'message' => $message,
            'requeue' => true,
            'delay_seconds' => max(0, $delaySeconds),
            'headers' => Headers::toObject($headers),
        ]], self::JSON_FLAGS);
    }
}
