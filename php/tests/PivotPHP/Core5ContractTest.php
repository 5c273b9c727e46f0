<?php

declare(strict_types=1);

namespace PivotPHP\Runtime\RoadRunner\Tests\PivotPHP;

/**
 * The contract suite ({@see ContractSuite}) against a real PivotPHP core 4.x or 5.x (pivotphp/http,
 * pivotphp/security, core-routing 2.2/3.0) through the adapter's PSR-15 path:
 * php/tests/fixtures/pivotphp-core5-worker.php, with the core named by PIVOTPHP5_AUTOLOAD — the
 * vendor/autoload.php of `composer require pivotphp/core:^5.0` (or ^4.0) where Packagist is
 * reachable. Without it every case is SKIPPED: the path was written from the published 5.0 source
 * and runs here only on the fake core (FakeCore5ContractTest).
 */
class Core5ContractTest extends ContractSuite
{
    protected static function script(): string
    {
        return 'pivotphp-core5-worker.php';
    }

    protected static function autoload(): ?string
    {
        $autoload = getenv('PIVOTPHP5_AUTOLOAD');

        return is_string($autoload) && is_file($autoload) ? $autoload : null;
    }

    protected static function skipReason(): string
    {
        $autoload = getenv('PIVOTPHP5_AUTOLOAD');
        if (!is_string($autoload) || $autoload === '') {
            return 'PIVOTPHP5_AUTOLOAD is not set; point it at the vendor/autoload.php of `composer require'
                . ' pivotphp/core:^5.0` (or ^4.0) to run the contract test against a real 4.x/5.x core';
        }

        return sprintf('PIVOTPHP5_AUTOLOAD=%s is not a file', $autoload);
    }

    public function testTheCoreIsServedOnThePsr15Path(): void
    {
        [$status, , $data] = $this->json('GET', '/');

        self::assertSame(200, $status);
        self::assertMatchesRegularExpression('/^[45]\./', (string) $data['core']);
    }

    public function testWrongMethodIs405WithAllow(): void
    {
        [$status, $headers] = $this->json('DELETE', '/text');

        self::assertSame(405, $status);
        self::assertSame(['GET'], $headers['Allow'] ?? null);
    }

    public function testMalformedJsonIs400AndTheNextBodyIsReadAfresh(): void
    {
        [$status, , $data] = $this->json('POST', '/users', ['Content-Type' => ['application/json']], '{"name":');
        self::assertSame([400, 'Bad Request'], [$status, $data['message']]);

        [$status, , $data] = $this->json('POST', '/users', ['Content-Type' => ['application/json']], '{"name":"ok"}');
        self::assertSame([201, 'ok', ['name' => 'ok']], [$status, $data['name'], $data['parsed']]);
    }
}
