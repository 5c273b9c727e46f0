<?php

declare(strict_types=1);

namespace PivotPHP\Runtime\RoadRunner\KV;

/**
 * The default value format: one marker byte 0xFF, one type byte, then the data.
 *
 *     0xFF 's' <raw bytes>   a PHP string, byte for byte (binary, any encoding, no escaping)
 *     0xFF 'j' <JSON>        int, float, bool, null or array (JSON, floats keep their ".0")
 *
 * Why not serialize(): unserialize() of bytes that anyone with access to the storage can
 * write (Redis, memcached, a shared boltdb file) instantiates arbitrary classes, which is
 * how PHP object injection works. This format can only ever produce strings, numbers,
 * booleans, null and arrays. Why not JSON for everything: strings, the common case, would
 * need base64 or escaping; here they are stored as they are, so a 1 MB blob costs 1 MB + 2.
 *
 * 0xFF never starts UTF-8 text, JSON or serialize() output, so bytes written by other
 * clients are reported as such instead of being misread. Objects are refused rather than
 * silently turned into arrays. Use {@see RawValueCodec} to share a storage with other clients.
 */
final class TaggedValueCodec implements ValueCodecInterface
{
    public const MARKER = "\xFF";
    public const STRING = 's';
    public const JSON = 'j';

    private const JSON_FLAGS = JSON_THROW_ON_ERROR | JSON_UNESCAPED_SLASHES | JSON_UNESCAPED_UNICODE
        | JSON_PRESERVE_ZERO_FRACTION;
    private const MAX_DEPTH = 512;

    public function encode(mixed $value): string
    {
        if (is_string($value)) {
            return self::MARKER . self::STRING . $value;
        }
        self::assertPlain($value, 0);

        try {
            return self::MARKER . self::JSON . json_encode($value, self::JSON_FLAGS, self::MAX_DEPTH);
        } catch (\JsonException $e) {
            throw new InvalidValueException(
                'KV value cannot be stored: ' . $e->getMessage()
                . ' (strings inside arrays must be UTF-8; store binary data as a top-level string)',
                0,
                $e,
            );
        }
    }

    public function decode(string $bytes): mixed
    {
        if (strlen($bytes) < 2 || $bytes[0] !== self::MARKER) {
            throw new InvalidValueException(sprintf(
                'KV value was not written by %s (it starts with %s);'
                . ' use RawValueCodec for values written by other clients',
                self::class,
                $bytes === '' ? 'nothing' : '0x' . bin2hex(substr($bytes, 0, 4)),
            ));
        }

        if ($bytes[1] === self::STRING) {
            return (string) substr($bytes, 2);
        }
        if ($bytes[1] === self::JSON) {
            try {
                return json_decode(substr($bytes, 2), true, self::MAX_DEPTH, JSON_THROW_ON_ERROR);
            } catch (\JsonException $e) {
                throw new InvalidValueException(
                    'KV value is corrupt: invalid JSON after the type tag: ' . $e->getMessage(),
                    0,
                    $e,
                );
            }
        }

        throw new InvalidValueException(sprintf('KV value has an unknown type tag 0x%02x', ord($bytes[1])));
    }

    private static function assertPlain(mixed $value, int $depth): void
    {
        if (is_array($value)) {
            if ($depth >= self::MAX_DEPTH) {
                throw new InvalidValueException(sprintf('KV value is nested deeper than %d levels', self::MAX_DEPTH));
            }
            foreach ($value as $item) {
                self::assertPlain($item, $depth + 1);
            }

            return;
        }
        if (is_object($value) || is_resource($value)) {
            throw new InvalidValueException(sprintf(
                'KV values are strings, numbers, booleans, null and arrays; got %s (convert it to an array first)',
                get_debug_type($value),
            ));
        }
        if (is_float($value) && !is_finite($value)) {
            throw new InvalidValueException('KV value cannot be INF or NAN');
        }
    }
}
