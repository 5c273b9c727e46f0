<?php

declare(strict_types=1);

namespace PivotPHP\Runtime\RoadRunner\Cli;

/**
 * Hands the process over to rr. With pcntl, pcntl_exec replaces PHP by rr: same pid, so every
 * signal (SIGTERM from systemd or Kubernetes, Ctrl-C, SIGUSR2) reaches rr itself and rr's exit
 * code is the process's. Without pcntl_exec (no ext-pcntl, or disabled), rr runs as a child with
 * this terminal; SIGINT, SIGTERM, SIGHUP, SIGQUIT and SIGUSR2 are forwarded when ext-pcntl can
 * catch them, and rr's exit code (128 + the signal when a signal ended it) is returned.
 */
final class Runner
{
    private const FORWARDED = ['SIGINT', 'SIGTERM', 'SIGHUP', 'SIGQUIT', 'SIGUSR2'];

    /** @param list<string> $args */
    public function exec(string $rr, array $args): int
    {
        if (function_exists('pcntl_exec') && getenv('PIVOT_RR_NO_EXEC') !== '1') {
            // flush PHP's own buffers: exec drops them
            @pcntl_exec($rr, $args);
            // only reached when exec failed
            fwrite(STDERR, sprintf("pivot-rr: cannot run %s: %s\n", $rr, pcntl_strerror(pcntl_get_last_error())));

            return 1;
        }

        return $this->child($rr, $args);
    }

    /** @param list<string> $args */
    private function child(string $rr, array $args): int
    {
        $proc = proc_open(array_merge([$rr], $args), [0 => STDIN, 1 => STDOUT, 2 => STDERR], $pipes);
        if (!is_resource($proc)) {
            fwrite(STDERR, sprintf("pivot-rr: cannot run %s\n", $rr));

            return 1;
        }
        $catch = function_exists('pcntl_signal') && function_exists('proc_terminate');
        if ($catch) {
            pcntl_async_signals(true);
            foreach (self::FORWARDED as $name) {
                if (defined($name)) {
                    pcntl_signal((int) constant($name), static fn (int $sig) => proc_terminate($proc, $sig));
                }
            }
        }
        do {
            $status = proc_get_status($proc);
            if ($status['running']) {
                usleep(50_000);
            }
        } while ($status['running']);
        proc_close($proc);

        if ($status['signaled']) {
            return 128 + $status['termsig'];
        }

        return $status['exitcode'];
    }
}
