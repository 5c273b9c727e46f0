<?php

declare(strict_types=1);

namespace PivotPHP\Runtime\RoadRunner\Tests\PivotPHP;

/**
 * The PSR-15 path (core 4.x/5.x) run here, in `make test`, on a FAKE core-5-shaped app
 * (php/tests/fixtures/fake-core5: VERSION 5.0.0, `handle(ServerRequestInterface):
 * ResponseInterface`, the ExpressRequest/ExpressResponse façades on Debian's nyholm/psr7). It checks
 * the adapter's code path end to end; it is NOT the real-core contract (Core5ContractTest, with
 * PIVOTPHP5_AUTOLOAD), and says nothing about how a real 4.x/5.x core behaves.
 */
final class FakeCore5ContractTest extends Core5ContractTest
{
    protected static function autoload(): ?string
    {
        return stream_resolve_include_path('Nyholm/Psr7/autoload.php') === false
            ? null
            : realpath(__DIR__ . '/../fixtures/fake-core5/autoload.php');
    }

    protected static function skipReason(): string
    {
        return 'nyholm/psr7 is not installed (apt-get install php-nyholm-psr7): the fake core 5 is built on it';
    }
}
