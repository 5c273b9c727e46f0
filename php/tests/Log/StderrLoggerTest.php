<?php

declare(strict_types=1);

namespace PivotPHP\Runtime\RoadRunner\Tests\Log;

use PHPUnit\Framework\TestCase;
use PivotPHP\Runtime\RoadRunner\Log\LogLine;
use PivotPHP\Runtime\RoadRunner\Log\StderrLogger;

final class StderrLoggerTest extends TestCase
{
    private const PSR_LOG = '/usr/share/php/Psr/Log/autoload.php';

    /** @return array{StderrLogger, resource} */
    private function logger(string $min = LogLine::DEBUG): array
    {
        $stream = fopen('php://memory', 'w+b');
        self::assertIsResource($stream);
        return [new StderrLogger($stream, $min), $stream];
    }

    /** @param resource $stream @return list<array<string, mixed>> */
    private static function lines($stream): array
    {
        rewind($stream);
        $out = [];
        foreach (explode("\n", rtrim((string) stream_get_contents($stream), "\n")) as $line) {
            if ($line !== '') {
                $out[] = json_decode($line, true, 512, \JSON_THROW_ON_ERROR);
            }
        }
        return $out;
    }

    public function testEachRecordIsOneJsonLineWithLevelMsgAndContext(): void
    {
        [$log, $stream] = $this->logger();
        $log->warning("slow query on {table}\nsecond line", ['table' => 'users', 'ms' => 812.0, 'tags' => ['a', 'b']]);
        $log->info('plain');

        rewind($stream);
        $raw = (string) stream_get_contents($stream);
        self::assertSame(2, substr_count($raw, "\n"), 'a message with a newline stays on one line');
        $lines = self::lines($stream);
        self::assertSame(['level' => 'warning', 'msg' => "slow query on users\nsecond line", 'table' => 'users', 'ms' => 812.0, 'tags' => ['a', 'b']], $lines[0]);
        self::assertSame(['level' => 'info', 'msg' => 'plain'], $lines[1]);
    }

    public function testEveryPsr3LevelHasItsMethod(): void
    {
        [$log, $stream] = $this->logger();
        $levels = ['emergency', 'alert', 'critical', 'error', 'warning', 'notice', 'info', 'debug'];
        foreach ($levels as $level) {
            $log->{$level}($level . ' message');
        }
        self::assertSame($levels, array_column(self::lines($stream), 'level'));
    }

    public function testExceptionsObjectsAndReservedKeys(): void
    {
        [$log, $stream] = $this->logger();
        $e = new \RuntimeException('outer', 3, new \LogicException('inner'));
        $log->error('failed: {exception}', ['exception' => $e, 'level' => 'mine', 'pid' => 1, 'obj' => new \stdClass(), 'bad' => "\xff"]);
        $line = self::lines($stream)[0];

        self::assertSame('error', $line['level']);
        self::assertStringStartsWith('failed: RuntimeException: outer', $line['msg']);
        self::assertSame('RuntimeException', $line['exception']['class']);
        self::assertSame('outer', $line['exception']['message']);
        self::assertSame(3, $line['exception']['code']);
        self::assertSame('LogicException', $line['exception']['previous']['class']);
        self::assertSame('mine', $line['context_level'], 'a context key named like a field pivot sets is renamed');
        self::assertSame(1, $line['context_pid']);
        self::assertSame(['class' => 'stdClass'], $line['obj']);
        self::assertSame("\u{fffd}", $line['bad'], 'invalid UTF-8 does not lose the line');
    }

    public function testMinimumLevelAndInvalidLevels(): void
    {
        [$log, $stream] = $this->logger(LogLine::WARNING);
        $log->info('dropped');
        $log->error('kept');
        self::assertSame(['kept'], array_column(self::lines($stream), 'msg'));

        $this->expectException(\InvalidArgumentException::class);
        $log->log('loud', 'no such level');
    }

    /** The class is a Psr\Log\LoggerInterface when psr/log is loaded, and works without it. */
    public function testWithAndWithoutPsrLog(): void
    {
        if (!is_file(self::PSR_LOG)) {
            self::fail('psr/log is not installed at ' . self::PSR_LOG . ': apt-get install php-psr-log (scripts/install-deps.sh test)');
        }
        $autoload = realpath(__DIR__ . '/../../autoload.php');
        $script = <<<'PHP'
            if ($argv[1] === 'psr') { require '%s'; }
            require '%s';
            $log = new PivotPHP\Runtime\RoadRunner\Log\StderrLogger();
            $log->notice('hello {who}', ['who' => 'pivot']);
            echo $log instanceof Psr\Log\LoggerInterface ? 'psr' : 'plain';
            PHP;
        foreach (['psr', 'plain'] as $mode) {
            $proc = proc_open(
                [\PHP_BINARY, '-r', sprintf($script, self::PSR_LOG, $autoload), '--', $mode],
                [1 => ['pipe', 'w'], 2 => ['pipe', 'w']],
                $pipes
            );
            self::assertIsResource($proc);
            $stdout = stream_get_contents($pipes[1]);
            $stderr = stream_get_contents($pipes[2]);
            self::assertSame(0, proc_close($proc), $stderr);
            self::assertSame($mode, $stdout, 'nothing but the test\'s own echo on STDOUT');
            self::assertSame('{"level":"notice","msg":"hello pivot","who":"pivot"}' . "\n", $stderr);
        }
    }
}
