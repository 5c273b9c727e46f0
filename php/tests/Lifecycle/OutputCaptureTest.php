<?php

declare(strict_types=1);

namespace PivotPHP\Runtime\RoadRunner\Tests\Lifecycle;

use PHPUnit\Framework\TestCase;
use PivotPHP\Runtime\RoadRunner\Lifecycle\OutputCapture;

final class OutputCaptureTest extends TestCase
{
    private OutputCapture $capture;
    private int $level;

    protected function setUp(): void
    {
        $this->capture = new OutputCapture();
        $this->level = ob_get_level();
    }

    protected function tearDown(): void
    {
        $this->capture->stop();
        self::assertSame($this->level, ob_get_level(), 'every buffer opened during the test is closed');
    }

    public function testCapturesEchoPrintfAndVarDump(): void
    {
        $this->capture->start();
        echo 'a';
        printf('%s', 'b');
        print 'c';
        var_dump(1);

        self::assertSame("abcint(1)\n", $this->capture->stop());
        self::assertSame($this->level, ob_get_level());
    }

    public function testStackedBuffersSurviveAStreamingHandlerThatPopsThem(): void
    {
        $this->capture->start();
        // PivotPHP's startStream(), write() and endStream():
        ob_end_flush();
        echo "data: 1\n\n";
        ob_flush();
        flush();
        echo "data: 2\n\n";
        ob_flush();
        ob_end_flush();

        self::assertSame("data: 1\n\ndata: 2\n\n", $this->capture->stop());
    }

    public function testHandlerPoppingEveryCaptureBufferIsStillCaptured(): void
    {
        $this->capture->start();
        echo 'one ';
        ob_end_flush();
        echo 'two ';
        ob_end_flush();
        echo 'three';
        ob_end_flush();

        // A fourth pop would reach the buffer below ours: that one is not ours to protect.
        self::assertSame($this->level, ob_get_level());
        self::assertSame('one two three', $this->capture->stop());
    }

    public function testBuffersTheApplicationLeavesOpenAreCaptured(): void
    {
        $this->capture->start();
        echo 'outer ';
        ob_start();
        echo 'inner ';
        ob_start(static fn (string $chunk): string => strtoupper($chunk));
        echo 'shouted';

        self::assertSame('outer inner SHOUTED', $this->capture->stop());
    }

    public function testApplicationBufferAfterPoppingOursIsCaptured(): void
    {
        $this->capture->start();
        ob_end_clean();
        ob_end_clean();
        ob_end_clean();
        ob_start();
        echo 'mine';

        self::assertSame('mine', $this->capture->stop());
    }

    public function testCleanedOutputIsDiscarded(): void
    {
        $this->capture->start();
        echo 'dropped';
        ob_clean();
        echo 'kept ';
        ob_start();
        echo 'taken';
        $taken = ob_get_clean();
        echo 'end';

        self::assertSame('taken', $taken);
        self::assertSame('kept end', $this->capture->stop());
    }

    public function testStartedTwiceFails(): void
    {
        $this->capture->start();

        $this->expectException(\LogicException::class);
        $this->capture->start();
    }

    public function testStopWithoutStartReturnsNothing(): void
    {
        self::assertSame('', $this->capture->stop());
        self::assertFalse($this->capture->isCapturing());
    }

    public function testReusableAcrossRequests(): void
    {
        foreach (['first', 'second', 'third'] as $body) {
            $this->capture->start();
            echo $body;
            self::assertSame($body, $this->capture->stop());
        }
    }

    public function testAtLeastOneBuffer(): void
    {
        $this->expectException(\InvalidArgumentException::class);
        new OutputCapture(0);
    }
}
