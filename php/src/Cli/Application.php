<?php

declare(strict_types=1);

namespace PivotPHP\Runtime\RoadRunner\Cli;

/**
 * pivot-rr's commands. serve, workers, reset and stop hand the process over to `rr` with the
 * same arguments (Runner): rr parses the flags, handles the signals and sets the exit code, so
 * nothing of rr is reimplemented here. init and doctor are this package's own.
 */
final class Application
{
    /** rr's commands that pivot-rr passes through unchanged. */
    public const PASSTHROUGH = ['serve', 'workers', 'reset', 'stop'];

    /**
     * @param resource $out
     * @param resource $err
     */
    public function __construct(private $out, private $err)
    {
    }

    /** @param list<string> $args the arguments after the program's name */
    public function run(array $args): int
    {
        $command = $args[0] ?? 'help';
        $rest = array_slice($args, 1);

        if (in_array($command, self::PASSTHROUGH, true)) {
            $rr = RrBinary::find(getcwd() ?: '.');
            if ($rr === null) {
                fwrite($this->err, "pivot-rr: the rr binary was not found.\n" . RrBinary::howToInstall() . "\n");

                return 1;
            }

            return (new Runner())->exec($rr, array_merge([$command], $rest));
        }

        return match ($command) {
            'init' => (new Init($this->out, $this->err))->run($rest),
            'doctor' => (new Doctor($this->out, $this->err))->run($rest),
            'help', '-h', '--help' => $this->help(),
            default => $this->unknown($command),
        };
    }

    private function help(): int
    {
        fwrite($this->out, <<<'TXT'
pivot-rr: run a PivotPHP application on RoadRunner (the pivot plugin's rr)

Usage: pivot-rr <command> [arguments]

  serve [-c .rr.yaml] [--watch] ...   start rr (every flag goes to `rr serve`)
  workers [-c .rr.yaml] [-i] ...      show the workers (`rr workers`)
  reset [-c .rr.yaml] [plugin...]     replace the workers without downtime (`rr reset`)
  stop [-c .rr.yaml] [-f]             stop a server started with serve -p (`rr stop`)
  init [DIR]                          write a starter .rr.yaml and worker.php (never overwrites)
  doctor [-c .rr.yaml]                check PHP, the rr binary, the config and its ports

rr is looked for at $RR_BINARY, then beside the project (./rr, vendor/bin/rr), then on PATH.

TXT);

        return 0;
    }

    private function unknown(string $command): int
    {
        fwrite($this->err, sprintf("pivot-rr: unknown command %s (commands: %s, init, doctor, help)\n",
            var_export($command, true), implode(', ', self::PASSTHROUGH)));

        return 2;
    }
}
