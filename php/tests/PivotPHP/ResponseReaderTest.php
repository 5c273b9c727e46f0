<?php

declare(strict_types=1);

namespace PivotPHP\Runtime\RoadRunner\Tests\PivotPHP;

use PHPUnit\Framework\TestCase;

/**
 * ResponseReader reads PivotPHP's header table directly when getHeaders() would only wrap it in
 * a fresh PSR-7 response: the result must be exactly getHeaders()'s, for every response shape.
 * Runs php/tests/fixtures/pivotphp-response-reader.php against the core named by
 * PIVOTPHP_AUTOLOAD (in its own process: no PHPUnit, so the core's production mode); SKIPPED
 * without it.
 */
final class ResponseReaderTest extends TestCase
{
    private const DIRECT = ['json', 'headers', 'spaces and empty', 'withHeader array', 'status', 'test mode'];
    private const VIA_GET_HEADERS = ['withHeader int', 'numeric name', 'psr7 built then changed', 'pooled psr7 response', 'subclass'];

    public function testHeadersAreExactlyThoseOfGetHeaders(): void
    {
        $autoload = getenv('PIVOTPHP_AUTOLOAD');
        if (!is_string($autoload) || !is_file($autoload)) {
            self::markTestSkipped('PIVOTPHP_AUTOLOAD does not name an installed pivotphp/core vendor/autoload.php');
        }
        $command = [PHP_BINARY, __DIR__ . '/../fixtures/pivotphp-response-reader.php'];
        $process = proc_open($command, [1 => ['pipe', 'w'], 2 => ['pipe', 'w']], $pipes, null, ['PIVOTPHP_AUTOLOAD' => $autoload]);
        self::assertIsResource($process);
        $out = (string) stream_get_contents($pipes[1]);
        $err = (string) stream_get_contents($pipes[2]);
        self::assertSame(0, proc_close($process), $err);

        $seen = [];
        foreach (explode("\n", trim($out)) as $line) {
            $case = json_decode($line, true, 512, JSON_THROW_ON_ERROR);
            self::assertSame($case['expected'], $case['actual'], $case['case']);
            $seen[$case['case']] = $case['direct'];
        }
        foreach (self::DIRECT as $name) {
            self::assertTrue($seen[$name] ?? null, "$name: read directly");
        }
        foreach (self::VIA_GET_HEADERS as $name) {
            self::assertFalse($seen[$name] ?? null, "$name: read through getHeaders()");
        }
        self::assertCount(count(self::DIRECT) + count(self::VIA_GET_HEADERS), $seen);
    }
}
