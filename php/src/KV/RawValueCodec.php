<?php

declare(strict_types=1);

namespace PivotPHP\Runtime\RoadRunner\KV;

/**
 * Values are the stored bytes themselves: strings in, strings out. For storages shared with
 * Go code or other clients, or when the application brings its own format.
 */
final class RawValueCodec implements ValueCodecInterface
{
    public function encode(mixed $value): string
    {
        if (!is_string($value)) {
            throw new InvalidValueException(
                sprintf('RawValueCodec stores strings only, got %s', get_debug_type($value)),
            );
        }

        return $value;
    }

    public function decode(string $bytes): string
    {
        return $bytes;
    }
}
