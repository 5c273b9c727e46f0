<?php

declare(strict_types=1);

namespace PivotPHP\Runtime\RoadRunner\Jobs;

/**
 * Job headers: name => list of values, as RoadRunner keeps them (map[string][]string).
 */
final class Headers
{
    /**
     * @param mixed $headers name => string|list<string>
     *
     * @return array<string, list<string>>
     */
    public static function normalize(mixed $headers): array
    {
        if (!is_array($headers)) {
            throw new InvalidJobException(
                sprintf(
                    'Job headers must be an array of name => string|list<string>, got %s',
                    get_debug_type($headers),
                ),
            );
        }
        $result = [];
        foreach ($headers as $name => $values) {
            if (!is_string($name) || $name === '') {
                throw new InvalidJobException(
                    sprintf('Job header names must be non-empty strings, got %s', var_export($name, true)),
                );
            }
            $values = is_array($values) ? array_values($values) : [$values];
            foreach ($values as $value) {
                if (!is_string($value)) {
                    throw new InvalidJobException(
                        sprintf('Job header "%s" values must be strings, got %s', $name, get_debug_type($value)),
                    );
                }
            }
            $result[$name] = $values;
        }

        return $result;
    }

    /**
     * The first value of $name, compared case-insensitively (RoadRunner keeps names as sent).
     *
     * @param array<string, list<string>> $headers
     */
    public static function first(array $headers, string $name): ?string
    {
        foreach ($headers as $key => $values) {
            if (strcasecmp((string) $key, $name) === 0 && isset($values[0])) {
                return $values[0];
            }
        }

        return null;
    }

    /**
     * $headers with $name set to the single $value (any other casing of the name replaced).
     *
     * @param array<string, list<string>> $headers
     *
     * @return array<string, list<string>>
     */
    public static function with(array $headers, string $name, string $value): array
    {
        foreach (array_keys($headers) as $key) {
            if (strcasecmp((string) $key, $name) === 0) {
                unset($headers[$key]);
            }
        }
        $headers[$name] = [$value];

        return $headers;
    }

    /**
     * The proto JSON form: {"name": {"value": ["…"]}}, `{}` when empty (never `[]`).
     *
     * @param array<string, list<string>> $headers
     */
    public static function toRpc(array $headers): \stdClass
    {
        $result = new \stdClass();
        foreach ($headers as $name => $values) {
            $result->{$name} = ['value' => $values];
        }

        return $result;
    }

    /**
     * The jobs worker protocol form (requeue): {"name": ["…"]}, `{}` when empty.
     *
     * @param array<string, list<string>> $headers
     */
    public static function toObject(array $headers): \stdClass
    {
        return (object) $headers;
    }
}
