<?php

declare(strict_types=1);

namespace PivotPHP\Runtime\RoadRunner\KV;

/**
 * Turns PHP values into the bytes a KV storage keeps, and back.
 */
interface ValueCodecInterface
{
    /** @throws InvalidValueException when the value cannot be stored faithfully */
    public function encode(mixed $value): string;

    /** @throws InvalidValueException when the bytes were not written by this codec */
    public function decode(string $bytes): mixed;
}
