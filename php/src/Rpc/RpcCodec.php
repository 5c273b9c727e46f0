<?php

declare(strict_types=1);

namespace PivotPHP\Runtime\RoadRunner\Rpc;

use PivotPHP\Runtime\RoadRunner\Goridge\Frame;

/**
 * goridge RPC frames (wire-protocol.md §5.1): exactly two options, the sequence id and the
 * length of the method name; `payload = "Service.Method" . body`; one codec bit; the
 * server answers with the same seq, method and codec, plus ERROR (0x40) on failure.
 */
final class RpcCodec
{
    public const MAX_SEQUENCE = 0xFFFFFFFF;

    /** JSON the way Go reads it back: no escaped slashes/unicode, floats stay floats. */
    private const JSON_FLAGS = JSON_THROW_ON_ERROR | JSON_UNESCAPED_SLASHES | JSON_UNESCAPED_UNICODE
        | JSON_PRESERVE_ZERO_FRACTION;

    public static function encodeRequest(
        int $sequence,
        string $method,
        string $body,
        int $codec = Frame::CODEC_JSON,
    ): Frame
    {
        self::assertMethod($method);
        if ($sequence < 1 || $sequence > self::MAX_SEQUENCE) {
            throw new \InvalidArgumentException(
                sprintf('RPC sequence id %d is outside 1..%d', $sequence, self::MAX_SEQUENCE),
            );
        }

        return new Frame($method . $body, [$sequence, strlen($method)], $codec);
    }

    /**
     * Checks that $frame answers call $sequence to $method and returns its body.
     *
     * @throws ServiceException            the frame is an error frame (the server's message)
     * @throws UnexpectedResponseException the frame answers another call or is malformed
     */
    public static function decodeResponse(Frame $frame, int $sequence, string $method): string
    {
        if (count($frame->options) !== 2) {
            throw new UnexpectedResponseException(sprintf(
                'RPC %s: the answer carries %d options instead of 2 (sequence id, method length)',
                $method,
                count($frame->options),
            ));
        }
        [$answeredSequence, $methodLength] = $frame->options;
        if ($answeredSequence !== $sequence) {
            throw new UnexpectedResponseException(sprintf(
                'RPC %s: the answer has sequence id %d, the call had %d',
                $method,
                $answeredSequence,
                $sequence,
            ));
        }
        if ($methodLength > strlen($frame->payload)) {
            throw new UnexpectedResponseException(sprintf(
                'RPC %s: the answer announces a %d-byte method name in a %d-byte payload',
                $method,
                $methodLength,
                strlen($frame->payload),
            ));
        }
        $answeredMethod = substr($frame->payload, 0, $methodLength);
        if ($answeredMethod !== $method) {
            throw new UnexpectedResponseException(
                sprintf('RPC %s: the answer is for method "%s"', $method, $answeredMethod),
            );
        }

        $body = (string) substr($frame->payload, $methodLength);
        if ($frame->hasFlag(Frame::ERROR)) {
            throw new ServiceException($method, $body);
        }

        return $body;
    }

    /** null means "no argument": an empty body, which Go decodes as the zero value. */
    public static function encodeJson(mixed $argument): string
    {
        if ($argument === null) {
            return '';
        }

        try {
            return json_encode($argument, self::JSON_FLAGS);
        } catch (\JsonException $e) {
            throw new \InvalidArgumentException('RPC argument cannot be encoded as JSON: ' . $e->getMessage(), 0, $e);
        }
    }

    /** The decoded reply; objects become associative arrays; an empty body is null. */
    public static function decodeJson(string $body, string $method): mixed
    {
        if ($body === '') {
            return null;
        }

        try {
            return json_decode($body, true, 512, JSON_THROW_ON_ERROR | JSON_BIGINT_AS_STRING);
        } catch (\JsonException $e) {
            throw new UnexpectedResponseException(sprintf(
                'RPC %s: the answer is not JSON (%s): %s',
                $method,
                $e->getMessage(),
                strlen($body) > 200 ? substr($body, 0, 200) . '…' : $body,
            ), 0, $e);
        }
    }

    private static function assertMethod(string $method): void
    {
        if (preg_match('/^[A-Za-z_][A-Za-z0-9_]*\.[A-Za-z_][A-Za-z0-9_]*$/D', $method) !== 1) {
            throw new \InvalidArgumentException(sprintf('RPC method "%s" must look like "Service.Method"', $method));
        }
    }
}
