<?php

declare(strict_types=1);

namespace PivotPHP\Runtime\RoadRunner\Tests\Cli;

use PHPUnit\Framework\TestCase;
use PivotPHP\Runtime\RoadRunner\Cli\Init;

/**
 * bin/pivot-rr as a real process against the real rr binary of this repository ($RR_BINARY, as
 * `make test` sets it, else ./rr at the repository root).
 */
final class PivotRrCliTest extends TestCase
{
    private const BIN = __DIR__ . '/../../bin/pivot-rr';
    private const HELLO = __DIR__ . '/../../../examples/hello/worker.php';

    private string $rr;
    private string $dir;

    /** @var list<resource> */
    private array $procs = [];

    protected function setUp(): void
    {
        $rr = getenv('RR_BINARY') ?: dirname(__DIR__, 3) . '/rr';
        if (!is_file($rr) || !is_executable($rr)) {
            self::fail("no rr binary at $rr: build it (go build -o rr ./cmd/rr at the repository root) or set RR_BINARY");
        }
        $this->rr = realpath($rr) ?: $rr;
        $this->dir = sys_get_temp_dir() . '/pivot-rr-test-' . bin2hex(random_bytes(4));
        mkdir($this->dir);
    }

    protected function tearDown(): void
    {
        foreach ($this->procs as $proc) {
            $status = proc_get_status($proc);
            if ($status['running']) {
                posix_kill($status['pid'], SIGKILL);
            }
            proc_close($proc);
        }
        exec('rm -rf ' . escapeshellarg($this->dir));
    }

    public function testHelpAndUnknownCommand(): void
    {
        [$code, $out] = $this->cli(['help']);
        self::assertSame(0, $code);
        foreach (['serve', 'workers', 'reset', 'stop', 'init', 'doctor'] as $cmd) {
            self::assertMatchesRegularExpression("/^  $cmd\\b/m", $out);
        }
        [$code, , $err] = $this->cli(['nope']);
        self::assertSame(2, $code);
        self::assertStringContainsString("unknown command 'nope'", $err);

        [$code, , $err] = $this->cli(['serve'], ['RR_BINARY' => $this->dir . '/no-rr']);
        self::assertSame(1, $code);
        self::assertStringContainsString('the rr binary was not found', $err);
    }

    /** Without RR_BINARY: rr beside the project (the nearest directory with composer.json). */
    public function testFindsRrBesideTheProject(): void
    {
        file_put_contents($this->dir . '/composer.json', '{}');
        symlink($this->rr, $this->dir . '/rr');
        mkdir($this->dir . '/src');
        $this->cli(['init', $this->dir]);
        [, $out] = $this->cli(['doctor', '-c', $this->dir . '/.rr.yaml'], ['RR_BINARY' => '', 'PATH' => '/usr/bin:/bin'], $this->dir . '/src');
        self::assertStringContainsString("ok    rr: {$this->dir}/rr (rr version", $out);
    }

    public function testInitWritesAStarterAndRefusesToOverwrite(): void
    {
        [$code, $out] = $this->cli(['init', $this->dir]);
        self::assertSame(0, $code, $out);
        self::assertSame(Init::RR_YAML, file_get_contents($this->dir . '/.rr.yaml'));
        self::assertSame(Init::WORKER, file_get_contents($this->dir . '/worker.php'));
        exec('php -l ' . escapeshellarg($this->dir . '/worker.php') . ' 2>&1', $lint, $lintCode);
        self::assertSame(0, $lintCode, implode("\n", $lint));

        // a second run writes nothing, even when only one of the files exists
        file_put_contents($this->dir . '/worker.php', '<?php // mine');
        unlink($this->dir . '/.rr.yaml');
        [$code, , $err] = $this->cli(['init', $this->dir]);
        self::assertSame(1, $code);
        self::assertStringContainsString('worker.php already exists; nothing was written', $err);
        self::assertFileDoesNotExist($this->dir . '/.rr.yaml');
        self::assertSame('<?php // mine', file_get_contents($this->dir . '/worker.php'));
    }

    /**
     * The starter config served through pivot-rr (its worker swapped for examples/hello, since
     * PivotPHP core is not installed here); workers and reset reach it over RPC; SIGTERM to the
     * pivot-rr process stops rr gracefully with exit code 0: the process IS rr (pcntl_exec).
     */
    public function testServeWorkersResetAndSignals(): void
    {
        $this->cli(['init', $this->dir]);
        [$addr, $flags] = $this->overrides();
        $serve = $this->start(array_merge(['serve', '-c', $this->dir . '/.rr.yaml'], $flags));
        $this->waitHttp("http://$addr/");

        $pid = proc_get_status($serve)['pid'];
        self::assertSame($this->rr, readlink("/proc/$pid/exe"), 'pivot-rr did not exec rr');

        [$code, $out] = $this->cli(array_merge(['workers', '-c', $this->dir . '/.rr.yaml'], $flags));
        self::assertSame(0, $code, $out);
        self::assertStringContainsString('Workers of [pivot]', $out);
        [$code, $out] = $this->cli(array_merge(['reset', '-c', $this->dir . '/.rr.yaml', 'pivot'], $flags));
        self::assertSame(0, $code, $out);
        $this->waitHttp("http://$addr/");

        posix_kill($pid, SIGTERM);
        self::assertSame(0, $this->wait($serve), 'rr did not exit 0 after SIGTERM');
    }

    /** Without exec (PIVOT_RR_NO_EXEC=1: what a PHP without pcntl_exec does) the signal is forwarded. */
    public function testChildModeForwardsSignalsAndExitCode(): void
    {
        $this->cli(['init', $this->dir]);
        [$addr, $flags] = $this->overrides();
        $serve = $this->start(array_merge(['serve', '-c', $this->dir . '/.rr.yaml'], $flags), ['PIVOT_RR_NO_EXEC' => '1']);
        $this->waitHttp("http://$addr/");
        $pid = proc_get_status($serve)['pid'];
        self::assertSame(realpath(PHP_BINARY), readlink("/proc/$pid/exe"), 'pivot-rr should run rr as its child');
        posix_kill($pid, SIGTERM);
        self::assertSame(0, $this->wait($serve));
    }

    public function testStopAndExitCodes(): void
    {
        $this->cli(['init', $this->dir]);
        [$addr, $flags] = $this->overrides();
        $serve = $this->start(array_merge(['serve', '-p', '-c', $this->dir . '/.rr.yaml'], $flags));
        $this->waitHttp("http://$addr/");
        [$code, $out] = $this->cli(array_merge(['stop', '-c', $this->dir . '/.rr.yaml'], $flags));
        self::assertSame(0, $code, $out);
        self::assertSame(0, $this->wait($serve));

        // rr's failure and exit code, unchanged
        exec(escapeshellarg($this->rr) . ' serve -c ' . escapeshellarg($this->dir . '/missing.yaml') . ' 2>&1', $rrOut, $rrCode);
        [$code, $out, $err] = $this->cli(['serve', '-c', $this->dir . '/missing.yaml']);
        self::assertNotSame(0, $rrCode);
        self::assertSame($rrCode, $code);
        self::assertSame(implode("\n", $rrOut), trim($out . $err));
    }

    public function testDoctor(): void
    {
        $this->cli(['init', $this->dir]);
        $yaml = $this->dir . '/.rr.yaml';
        // free ports of our own, and a busy one for pivot.address
        $busy = stream_socket_server('tcp://127.0.0.1:0');
        self::assertNotFalse($busy);
        $busyAddr = stream_socket_get_name($busy, false);
        file_put_contents($yaml, strtr(file_get_contents($yaml), [
            '127.0.0.1:6001' => $this->freeAddr(), '127.0.0.1:2114' => $this->freeAddr(),
            '127.0.0.1:8080' => '${DOCTOR_PIVOT_ADDR:-' . $this->freeAddr() . '}',
        ]));

        [$code, $out] = $this->cli(['doctor', '-c', $yaml]);
        self::assertSame(0, $code, $out);
        self::assertStringContainsString("ok    rr: {$this->rr}", $out);
        self::assertMatchesRegularExpression('/^ok    pivot\.address 127\.0\.0\.1:\d+ is free$/m', $out);
        self::assertStringContainsString('no problem found', $out);

        [$code, $out] = $this->cli(['doctor', '-c', $yaml], ['DOCTOR_PIVOT_ADDR' => $busyAddr]);
        self::assertSame(1, $code, $out);
        self::assertStringContainsString("FAIL  pivot.address $busyAddr cannot be listened on", $out);
        self::assertStringContainsString('or change pivot.address', $out);

        [$code, $out] = $this->cli(['doctor', '-c', $yaml], ['RR_BINARY' => $this->dir . '/no-rr', 'PATH' => '/nonexistent']);
        self::assertSame(1, $code, $out);
        self::assertStringContainsString("FAIL  rr was not found (looked at: {$this->dir}/no-rr", $out);
        self::assertStringContainsString('RR_BINARY=/path/to/rr', $out);

        file_put_contents($yaml, "pivot:\n  address: [\n");
        [$code, $out] = $this->cli(['doctor', '-c', $yaml]);
        self::assertSame(1, $code, $out);
        self::assertMatchesRegularExpression('/FAIL  .*\.rr\.yaml (cannot be read|does not validate)/', $out);

        [$code, $out] = $this->cli(['doctor', '-c', $this->dir . '/none.yaml']);
        self::assertSame(1, $code);
        self::assertStringContainsString('none.yaml does not exist', $out);
        fclose($busy);
    }

    /** @return array{string, list<string>} pivot's address and the -o flags moving every port */
    private function overrides(): array
    {
        $addr = $this->freeAddr();

        return [$addr, [
            '-o', 'server.command=php ' . realpath(self::HELLO),
            '-o', "pivot.address=$addr",
            '-o', 'rpc.listen=tcp://' . $this->freeAddr(),
            '-o', 'status.address=' . $this->freeAddr(),
            '-o', 'logs.mode=production', '-o', 'logs.level=error',
        ]];
    }

    private function freeAddr(): string
    {
        $s = stream_socket_server('tcp://127.0.0.1:0');
        self::assertNotFalse($s);
        $name = stream_socket_get_name($s, false);
        fclose($s);

        return (string) $name;
    }

    /**
     * @param list<string> $args
     * @param array<string, string> $env
     * @return array{int, string, string}
     */
    private function cli(array $args, array $env = [], ?string $cwd = null): array
    {
        $proc = proc_open(array_merge([PHP_BINARY, self::BIN], $args), [1 => ['pipe', 'w'], 2 => ['pipe', 'w']], $pipes,
            $cwd ?? $this->dir, $this->env($env));
        self::assertIsResource($proc);
        $out = (string) stream_get_contents($pipes[1]);
        $err = (string) stream_get_contents($pipes[2]);

        return [proc_close($proc), $out, $err];
    }

    /**
     * @param list<string> $args
     * @param array<string, string> $env
     * @return resource
     */
    private function start(array $args, array $env = [])
    {
        $log = $this->dir . '/serve.log';
        $proc = proc_open(array_merge([PHP_BINARY, self::BIN], $args), [1 => ['file', $log, 'a'], 2 => ['file', $log, 'a']],
            $pipes, $this->dir, $this->env($env));
        self::assertIsResource($proc);
        $this->procs[] = $proc;

        return $proc;
    }

    /** @param resource $proc */
    private function wait($proc): int
    {
        $deadline = microtime(true) + 20;
        while (microtime(true) < $deadline) {
            $status = proc_get_status($proc);
            if (!$status['running']) {
                return $status['signaled'] ? 128 + $status['termsig'] : $status['exitcode'];
            }
            usleep(50_000);
        }
        self::fail("still running after 20 s:\n" . @file_get_contents($this->dir . '/serve.log'));
    }

    private function waitHttp(string $url): void
    {
        $deadline = microtime(true) + 20;
        $ctx = stream_context_create(['http' => ['timeout' => 2, 'ignore_errors' => true]]);
        while (microtime(true) < $deadline) {
            $body = @file_get_contents($url, false, $ctx);
            if (is_string($body) && str_contains($body, '"ok":true')) {
                return;
            }
            usleep(100_000);
        }
        self::fail("$url did not answer:\n" . @file_get_contents($this->dir . '/serve.log'));
    }

    /**
     * @param array<string, string> $extra
     * @return array<string, string>
     */
    private function env(array $extra): array
    {
        $env = getenv();
        unset($env['RR_BINARY']);
        foreach (array_keys($env) as $k) {
            if (str_starts_with($k, 'RR_')) {
                unset($env[$k]);
            }
        }

        return array_merge($env, ['RR_BINARY' => $this->rr], $extra);
    }
}
