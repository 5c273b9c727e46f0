<?php

declare(strict_types=1);

namespace PivotPHP\Runtime\RoadRunner;

/**
 * What a worker frame carries: a context (JSON for HTTP) and a body (raw bytes).
 */
final class Payload
{
    public function __construct(
        public readonly string $context = '',
        public readonly string $body = '',
    ) {
    }
}
