<?php

declare(strict_types=1);

namespace PivotPHP\Runtime\RoadRunner\Tests\Support;

use PHPUnit\Framework\Assert;

/**
 * tests/fixtures/fake-rpc-server.php as a child process: a goridge RPC server that can be
 * killed and started again on the same address (to test reconnects).
 */
final class FakeRpcServer
{
    private const SCRIPT = __DIR__ . '/../fixtures/fake-rpc-server.php';

    /** @var resource|null */
    private $process = null;

    /** @var array<int, resource> */
    private array $pipes = [];

    public string $address;
    public readonly string $log;

    public function __construct(string $address = 'tcp://127.0.0.1:0')
    {
        $this->log = (string) tempnam(sys_get_temp_dir(), 'fake-rpc-log-');
        $this->address = $address;
        $this->start();
    }

    public function __destruct()
    {
        $this->stop();
        @unlink($this->log);
    }

    public function start(): void
    {
        $process = proc_open([PHP_BINARY, self::SCRIPT, $this->address, $this->log], [
            0 => ['pipe', 'r'], 1 => ['pipe', 'w'], 2 => STDERR,
        ], $pipes);
        if ($process === false) {
            Assert::fail('Cannot start the fake RPC server');
        }
        $this->process = $process;
        $this->pipes = $pipes;

        $read = [$pipes[1]];
        $write = $except = null;
        if (stream_select($read, $write, $except, 5) !== 1) {
            Assert::fail('The fake RPC server did not start within 5 s');
        }
        $line = trim((string) fgets($pipes[1]));
        if (!str_starts_with($line, 'ready ')) {
            Assert::fail("The fake RPC server said: $line");
        }
        $this->address = substr($line, strlen('ready '));
    }

    /** SIGKILL, as when RoadRunner dies; start() brings it back on the same address. */
    public function stop(): void
    {
        if ($this->process === null) {
            return;
        }
        proc_terminate($this->process, 9);
        foreach ($this->pipes as $pipe) {
            if (is_resource($pipe)) {
                fclose($pipe);
            }
        }
        proc_close($this->process);
        $this->process = null;
        $this->pipes = [];
        if (str_starts_with($this->address, 'unix://')) {
            @unlink(substr($this->address, strlen('unix://')));
        }
    }

    /** @return list<array{connection: int, seq: int, method: string, flags: int, body: string}> */
    public function calls(): array
    {
        clearstatcache(true, $this->log);
        $lines = array_filter(explode("\n", (string) file_get_contents($this->log)));

        return array_values(array_map(static fn (string $l): array => json_decode($l, true), $lines));
    }
}
