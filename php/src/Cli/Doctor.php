<?php

declare(strict_types=1);

namespace PivotPHP\Runtime\RoadRunner\Cli;

/**
 * `pivot-rr doctor [-c .rr.yaml]`: PHP and its extensions, the rr binary, the configuration
 * (validated by rr) and its ports. Each problem is printed with what to do about it; the exit
 * code is 1 when anything fails (warnings alone: 0).
 */
final class Doctor
{
    private const MIN_PHP = '8.1.0';

    private int $failures = 0;

    /**
     * @param resource $out
     * @param resource $err
     */
    public function __construct(private $out, private $err)
    {
    }

    /** @param list<string> $args */
    public function run(array $args): int
    {
        $config = '.rr.yaml';
        for ($i = 0; $i < count($args); $i++) {
            if (($args[$i] === '-c' || $args[$i] === '--config') && isset($args[$i + 1])) {
                $config = $args[++$i];
            } elseif (str_starts_with($args[$i], '--config=')) {
                $config = substr($args[$i], 9);
            } else {
                fwrite($this->err, "pivot-rr doctor: usage: pivot-rr doctor [-c .rr.yaml]\n");

                return 2;
            }
        }

        $this->php();
        $rr = $this->rr();
        $this->config($rr, $config);

        fwrite($this->out, $this->failures === 0
            ? "\nno problem found\n"
            : sprintf("\n%d problem%s to fix\n", $this->failures, $this->failures === 1 ? '' : 's'));

        return $this->failures === 0 ? 0 : 1;
    }

    private function php(): void
    {
        if (version_compare(PHP_VERSION, self::MIN_PHP, '>=')) {
            $this->ok(sprintf('PHP %s (%s)', PHP_VERSION, PHP_BINARY));
        } else {
            $this->fail(sprintf('PHP %s is too old', PHP_VERSION), 'install PHP 8.1 or newer');
        }
        foreach (['json' => 'required'] as $ext => $_) {
            extension_loaded($ext)
                ? $this->ok("ext-$ext")
                : $this->fail("ext-$ext is missing", "install it (Debian: apt-get install php-$ext)");
        }
        if (!extension_loaded('pcntl')) {
            $this->warn('ext-pcntl is missing', 'pivot-rr then runs rr as a child and cannot forward signals; install php-pcntl (CLI)');
        } else {
            $this->ok('ext-pcntl');
        }
        if (!extension_loaded('Zend OPcache')) {
            $this->warn('opcache is not loaded', 'install php-opcache and set opcache.enable_cli=1: workers compile once either way, opcache saves memory and boot time');
        } elseif (!filter_var(ini_get('opcache.enable_cli'), FILTER_VALIDATE_BOOL)) {
            $this->warn('opcache.enable_cli is off', 'set opcache.enable_cli=1 (workers run under the CLI SAPI)');
        } else {
            $this->ok('opcache (enable_cli=1)');
        }
    }

    private function rr(): ?string
    {
        $cwd = getcwd() ?: '.';
        $rr = RrBinary::find($cwd);
        if ($rr === null) {
            $this->fail('rr was not found (looked at: ' . implode(', ', array_slice(RrBinary::candidates($cwd), 0, 6)) . ', ...)',
                RrBinary::howToInstall());

            return null;
        }
        [$code, $out] = self::capture([$rr, '--version']);
        if ($code !== 0) {
            $this->fail("$rr --version failed (exit $code)", 'replace the binary: ' . RrBinary::howToInstall());

            return null;
        }
        $version = trim(strtok($out, "\n") ?: '');
        if (!str_contains($out, 'pivot plugin')) {
            $this->fail("$rr has no pivot plugin ($version)", RrBinary::howToInstall());

            return null;
        }
        $this->ok("rr: $rr ($version)");

        return $rr;
    }

    private function config(?string $rr, string $config): void
    {
        if (!is_file($config)) {
            $this->fail("$config does not exist", 'run pivot-rr init, or pass -c path/to/.rr.yaml');

            return;
        }
        if ($rr !== null) {
            [, $help] = self::capture([$rr, 'config', '--help']);
            if (preg_match('/^\s+validate\s/m', $help) === 1) {
                [$code, $out] = self::capture([$rr, 'config', 'validate', '-c', $config]);
                $code === 0
                    ? $this->ok("$config: rr config validate found no problem")
                    : $this->fail("$config does not validate:\n" . self::indent($out), 'fix the keys named above');
            } else {
                // no `rr config validate` in this rr: rr reads the file without starting anything
                [$code, $out] = self::capture([$rr, 'config', 'migrate', '-c', $config]);
                $code === 0
                    ? $this->ok("$config: rr reads it (this rr has no `config validate`: keys were not checked, only the YAML)")
                    : $this->fail("$config cannot be read:\n" . self::indent($out), 'fix the YAML at the line named above');
            }
        }
        $yaml = (string) file_get_contents($config);
        $addresses = ConfigAddresses::fromYaml($yaml);
        if ($addresses === []) {
            $this->warn("$config names no TCP address", 'set pivot.address, e.g. 127.0.0.1:8080');
        }
        foreach ($addresses as $key => $address) {
            $this->port($key, $address);
        }
    }

    private function port(string $key, string $address): void
    {
        [$host] = self::split($address);
        $bind = $host === '' ? '0.0.0.0' : $host;
        $server = @stream_socket_server('tcp://' . $bind . substr($address, strlen($host)), $errno, $errstr);
        if ($server !== false) {
            fclose($server);
            $this->ok("$key $address is free");

            return;
        }
        $this->fail("$key $address cannot be listened on: $errstr",
            "stop what listens there (ss -ltnp 'sport = :" . self::split($address)[1] . "') or change $key");
    }

    /** @return array{string, string} host, port */
    private static function split(string $address): array
    {
        $colon = strrpos($address, ':');

        return [substr($address, 0, (int) $colon), substr($address, (int) $colon + 1)];
    }

    /**
     * @param list<string> $cmd
     * @return array{int, string} exit code, stdout and stderr
     */
    private static function capture(array $cmd): array
    {
        $proc = proc_open($cmd, [0 => ['file', '/dev/null', 'r'], 1 => ['pipe', 'w'], 2 => ['redirect', 1]], $pipes);
        if (!is_resource($proc)) {
            return [127, 'cannot run ' . $cmd[0]];
        }
        $out = (string) stream_get_contents($pipes[1]);
        fclose($pipes[1]);

        return [proc_close($proc), $out];
    }

    private static function indent(string $s): string
    {
        return '      ' . str_replace("\n", "\n      ", trim($s));
    }

    private function ok(string $what): void
    {
        fwrite($this->out, "ok    $what\n");
    }

    private function warn(string $what, string $fix): void
    {
        fwrite($this->out, "warn  $what\n      fix: $fix\n");
    }

    private function fail(string $what, string $fix): void
    {
        $this->failures++;
        fwrite($this->out, "FAIL  $what\n      fix: $fix\n");
    }
}
