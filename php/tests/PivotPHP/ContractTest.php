<?php

declare(strict_types=1);

namespace PivotPHP\Runtime\RoadRunner\Tests\PivotPHP;

/**
 * The contract suite ({@see ContractSuite}) against a real PivotPHP core of the hybrid line (1.1 to
 * 3.x): php/tests/fixtures/pivotphp-core-worker.php, with the core named by PIVOTPHP_AUTOLOAD (an
 * installed core's vendor/autoload.php). Without it every case is SKIPPED — a skip is not a pass.
 *
 * The worker process has no PHPUnit on its autoloader, so PivotPHP runs in its production mode
 * (up to 2.0 Response::json() echoes, streaming pops output buffers), as it would under RoadRunner.
 */
final class ContractTest extends ContractSuite
{
    protected static function script(): string
    {
        return 'pivotphp-core-worker.php';
    }

    protected static function autoload(): ?string
    {
        $autoload = getenv('PIVOTPHP_AUTOLOAD');

        return is_string($autoload) && is_file($autoload) ? $autoload : null;
    }

    protected static function skipReason(): string
    {
        $autoload = getenv('PIVOTPHP_AUTOLOAD');
        if (!is_string($autoload) || $autoload === '') {
            return 'PIVOTPHP_AUTOLOAD is not set; point it at an installed pivotphp/core\'s vendor/autoload.php'
                . ' (core 1.1 to 3.x; up to 2.0 with psr/http-message 1.1) to run the contract test against a real core';
        }

        return sprintf('PIVOTPHP_AUTOLOAD=%s is not a file', $autoload);
    }

    public function testNotFoundSkipsGlobalMiddlewareUpTo230(): void
    {
        $core = (string) $this->json('GET', '/')[2]['core'];
        [$status, $headers] = $this->json('GET', '/no/such/route');

        self::assertSame(404, $status);
        if (version_compare($core, '2.3.1', '<')) {
            self::assertArrayNotHasKey('X-Middleware', $headers, "PivotPHP $core skips middleware when no route matched");
        } else {
            self::assertSame(['ran'], $headers['X-Middleware'] ?? null, "PivotPHP $core runs global middleware before routing");
        }
    }

    public function testStreamedEventsAreCapturedAndStdoutStaysClean(): void
    {
        [$status, $headers, $body] = $this->exchange('GET', '/stream');

        self::assertSame(200, $status);
        self::assertSame(['text/event-stream'], $headers['Content-Type']);
        foreach (['one', 'two', 'three'] as $i => $event) {
            self::assertStringContainsString("event: tick\ndata: {\"n\":$i,\"event\":\"$event\"}\n\n", $body);
        }
        self::assertSame(200, $this->json('GET', '/')[0], 'the next frame decodes: nothing leaked on STDOUT');
    }
}
