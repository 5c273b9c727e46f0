<?php

declare(strict_types=1);

namespace PivotPHP\Runtime\RoadRunner\Http;

use PivotPHP\Runtime\RoadRunner\Exception\InvalidResponseException;

/**
 * Encodes the response context `{"status":N,"headers":{name:[values]}}` (wire-protocol.md §3.5).
 */
final class ResponseContext
{
    /**
     * The last headers (strings or lists of strings only), status and context encoded:
     * a worker tends to answer with the same headers array again and again, and `===` on
     * the same array is one pointer comparison.
     */
    private static ?array $lastHeaders = null;
    private static int $lastStatus = 0;
    private static string $lastContext = '';

    /**
     * @param array<string, string|int|float|\Stringable|list<string|int|float|\Stringable>> $headers
     */
    public static function encode(int $status, array $headers = []): string
    {
        if ($headers === self::$lastHeaders && $status === self::$lastStatus) {
            return self::$lastContext;
        }
        if ($status < 100 || $status > 599) {
            throw new InvalidResponseException(sprintf('HTTP status must be within 100-599, got %d', $status));
        }
        if ($headers === []) {
            // json_encode([]) gives `[]`, which RoadRunner cannot unmarshal into a header map.
            return '{"status":' . $status . ',"headers":{}}';
        }

        $normalized = [];
        $onlyStrings = true; // other values may not convert the same way next time (floats, objects)
        foreach ($headers as $name => $value) {
            if ($name === '') {
                throw new InvalidResponseException('A response header name cannot be empty');
            }
            if (is_string($value)) {
                $normalized[$name] = [$value];
            } elseif (is_array($value)) {
                if ($value !== []) {
                    $normalized[$name] = self::stringList($name, $value);
                    $onlyStrings = $onlyStrings && $normalized[$name] === array_values($value);
                }
            } else {
                $normalized[$name] = [self::stringValue($name, $value)];
                $onlyStrings = false;
            }
        }

        if ($normalized === []) {
            return '{"status":' . $status . ',"headers":{}}';
        }
        if (array_is_list($normalized)) {
            throw new InvalidResponseException('Response headers must be a map of name => value(s), got a list');
        }

        try {
            $json = json_encode($normalized, JSON_UNESCAPED_SLASHES | JSON_UNESCAPED_UNICODE | JSON_THROW_ON_ERROR);
        } catch (\JsonException $e) {
            throw new InvalidResponseException('Response headers cannot be encoded: ' . $e->getMessage(), 0, $e);
        }

        $context = '{"status":' . $status . ',"headers":' . $json . '}';
        if ($onlyStrings) {
            self::$lastHeaders = $headers;
            self::$lastStatus = $status;
            self::$lastContext = $context;
        }

        return $context;
    }

    /** @return list<string> */
    private static function stringList(int|string $name, array $values): array
    {
        $list = [];
        foreach ($values as $value) {
            $list[] = is_string($value) ? $value : self::stringValue($name, $value);
        }

        return $list;
    }

    private static function stringValue(int|string $name, mixed $value): string
    {
        if (is_int($value) || is_float($value) || $value instanceof \Stringable) {
            return (string) $value;
        }

        throw new InvalidResponseException(sprintf(
            'Response header "%s" must be a string or a list of strings, got %s',
            $name,
            get_debug_type($value),
        ));
    }
}
