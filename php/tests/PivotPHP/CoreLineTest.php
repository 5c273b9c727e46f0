<?php

declare(strict_types=1);

namespace PivotPHP\Runtime\RoadRunner\Tests\PivotPHP;

use PHPUnit\Framework\TestCase;
use PivotPHP\Runtime\RoadRunner\PivotPHP\CoreLine;
use PivotPHP\Runtime\RoadRunner\PivotPHP\UnsupportedCoreException;
use PivotPHP\Runtime\RoadRunner\Tests\Fixtures\CoreShapes;
use PivotPHP\Runtime\RoadRunner\Tests\Support\WorkerProcess;

require_once __DIR__ . '/../fixtures/core-shapes.php';

/**
 * The release-line detection at boot: VERSION and the shape of Application::handle() pick the
 * path; anything outside 1.1 to 5.x is refused with one sentence.
 */
final class CoreLineTest extends TestCase
{
    public function testEachLineTakesItsPath(): void
    {
        foreach ([
            CoreShapes\Core12::class => ['1.2.0', 1, CoreLine::HYBRID],
            CoreShapes\Core31::class => ['3.1.0', 3, CoreLine::HYBRID],
            CoreShapes\Core41::class => ['4.1.1', 4, CoreLine::PSR15],
            CoreShapes\Core50::class => ['5.0.0', 5, CoreLine::PSR15],
        ] as $class => [$version, $major, $path]) {
            $line = CoreLine::of($class);
            self::assertSame([$version, $major, $path], [$line->version, $line->major, $line->path], $class);
            self::assertSame($path === CoreLine::PSR15, $line->isPsr15());
        }
        self::assertSame('PivotPHP core 5.0.0 (psr15 path)', CoreLine::of(CoreShapes\Core50::class)->describe());
    }

    public function testAFutureMajorIsRefusedInOneSentence(): void
    {
        $this->expectException(UnsupportedCoreException::class);
        $this->expectExceptionMessage(
            'PivotPHP core 6.0.0 is installed; this RoadRunner adapter supports pivotphp/core 1.1 to 5.x'
            . ' (^1.1 || ^2.0 || ^3.0 || ^4.0 || ^5.0).',
        );
        CoreLine::of(CoreShapes\Core60::class);
    }

    public function testTooOldUnknownAndMismatchedCoresAreRefused(): void
    {
        $messages = [];
        foreach ([CoreShapes\Core10::class, CoreShapes\NoVersion::class, CoreShapes\Core40Hybrid::class] as $class) {
            try {
                CoreLine::of($class);
                self::fail("$class was accepted");
            } catch (UnsupportedCoreException $e) {
                $messages[] = $e->getMessage();
                self::assertStringContainsString('supports pivotphp/core 1.1 to 5.x', $e->getMessage());
                self::assertStringEndsWith('.', $e->getMessage());
                self::assertStringNotContainsString('. ', $e->getMessage(), 'one sentence');
            }
        }
        self::assertStringStartsWith('PivotPHP core 1.0.1 is installed;', $messages[0]);
        self::assertStringContainsString('has no readable version', $messages[1]);
        self::assertStringContainsString('PivotPHP core 4.0.0 is installed but its Application::handle() takes'
            . ' PivotPHP\Core\Http\Request', $messages[2]);
    }

    public function testAWorkerOnAnUnsupportedCoreStopsAtBootWithOneSentence(): void
    {
        $worker = new WorkerProcess(__DIR__ . '/../fixtures/pivotphp-any-core-worker.php', [
            'PIVOTPHP_AUTOLOAD' => __DIR__ . '/../fixtures/fake-core6/autoload.php',
        ]);
        try {
            self::assertNotSame(0, $worker->waitForExit(), 'the worker exits at boot, before any request');
            $sentence = 'PivotPHP core 6.0.0 is installed; this RoadRunner adapter supports pivotphp/core 1.1 to'
                . ' 5.x (^1.1 || ^2.0 || ^3.0 || ^4.0 || ^5.0).';
            $firstLine = strstr($worker->stderr(), "\n", true);
            self::assertSame("[pivotphp-rr {$worker->pid}] $sentence", $firstLine, 'the sentence is the first line on STDERR');
            self::assertSame('', $worker->remainingStdout(), 'nothing on STDOUT (the frame pipe)');
        } finally {
            $worker->kill();
        }
    }
}
