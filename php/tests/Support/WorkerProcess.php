<?php

declare(strict_types=1);

namespace PivotPHP\Runtime\RoadRunner\Tests\Support;

use PHPUnit\Framework\Assert;
use PivotPHP\Runtime\RoadRunner\Goridge\Frame;
use PivotPHP\Runtime\RoadRunner\Relay\StreamRelay;

/**
 * A PHP worker script run as a real child process, driven over its STDIN/STDOUT pipes the
 * way RoadRunner does it. STDERR goes to a temp file so a chatty worker never blocks.
 */
final class WorkerProcess
{
    /** @var resource */
    private $process;

    /** @var array<int, resource> */
    private array $pipes;

    private string $stderrFile;
    private ?int $exitCode = null;
    public readonly int $pid;
    public readonly FakeRoadRunner $roadRunner;

    /**
     * @param array<string, string> $environment added to the current environment
     * @param bool                  $pipes       false for socket relays: no frames on STDIO
     */
    public function __construct(string $script, array $environment = [], bool $pipes = true)
    {
        $this->stderrFile = (string) tempnam(sys_get_temp_dir(), 'rr-worker-stderr-');
        $process = proc_open(
            [PHP_BINARY, '-d', 'display_errors=stdout', $script],
            [0 => ['pipe', 'r'], 1 => ['pipe', 'w'], 2 => ['file', $this->stderrFile, 'w']],
            $pipes,
            null,
            $environment + getenv(),
        );
        if ($process === false) {
            Assert::fail("Cannot start $script");
        }

        $this->process = $process;
        $this->pipes = $pipes;
        $this->pid = proc_get_status($process)['pid'];
        $this->roadRunner = new FakeRoadRunner(new StreamRelay($pipes[1], $pipes[0]));
    }

    public function __destruct()
    {
        $this->kill();
        @unlink($this->stderrFile);
    }

    /** RoadRunner's pid handshake; asserts the exact reply (CONTROL only, no options, real pid). */
    public function handshake(): void
    {
        $this->roadRunner->sendPidRequest(1);
        $frame = $this->roadRunner->receive();

        Assert::assertSame(Frame::CONTROL, $frame->flags, 'The pid reply has flags 0x01');
        Assert::assertSame([], $frame->options);
        Assert::assertSame(0, $frame->streamFlags);
        Assert::assertSame('{"pid":' . $this->pid . ',"pipelining":true}', $frame->payload);
    }

    public function isRunning(): bool
    {
        return $this->exitCode === null && $this->poll();
    }

    /** Waits for the process to exit and returns its exit code. */
    public function waitForExit(float $timeout = 5.0): int
    {
        $deadline = microtime(true) + $timeout;
        while ($this->poll()) {
            if (microtime(true) > $deadline) {
                Assert::fail(sprintf("The worker did not exit within %.1f s. STDERR:\n%s", $timeout, $this->stderr()));
            }
            usleep(5000);
        }

        return (int) $this->exitCode;
    }

    /** Everything still unread on STDOUT (call after the process exited). */
    public function remainingStdout(): string
    {
        return (string) stream_get_contents($this->pipes[1]);
    }

    /** @return array{0: resource, 1: resource} the worker's STDIN (to write) and STDOUT (to read) */
    public function stdio(): array
    {
        return [$this->pipes[0], $this->pipes[1]];
    }

    /** What RoadRunner's death looks like to the worker. */
    public function closeStdin(): void
    {
        fclose($this->pipes[0]);
    }

    public function stderr(): string
    {
        clearstatcache(true, $this->stderrFile);

        return (string) file_get_contents($this->stderrFile);
    }

    public function kill(): void
    {
        if ($this->poll()) {
            proc_terminate($this->process, 9);
            $this->waitForExit();
        }
        foreach ($this->pipes as $pipe) { // closed ones are no longer resources
            if (is_resource($pipe)) {
                fclose($pipe);
            }
        }
        $this->pipes = [];
        if (is_resource($this->process)) {
            proc_close($this->process);
        }
    }

    /** @return bool whether the process still runs; records the exit code (reported only once). */
    private function poll(): bool
    {
        if ($this->exitCode !== null || !is_resource($this->process)) {
            return false;
        }
        $status = proc_get_status($this->process);
        if ($status['running']) {
            return true;
        }
        $this->exitCode = $status['exitcode'];

        return false;
    }
}
