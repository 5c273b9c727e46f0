<?php

declare(strict_types=1);

namespace PivotPHP\Runtime\RoadRunner\Cli;

/**
 * The TCP addresses a .rr.yaml makes rr listen on, for doctor's port check. PHP has no YAML
 * parser by default, so this reads the subset configurations use for these keys: block mappings
 * by indentation, flow mappings ({address: ...}), quoted scalars, comments and ${VAR} /
 * ${VAR:-default}. Lists are skipped. Whether the whole file is valid is rr's to say.
 */
final class ConfigAddresses
{
    /** The keys that hold an address rr listens on. */
    public const KEYS = [
        'pivot.address', 'pivot.ssl.address', 'http.address', 'http.ssl.address',
        'rpc.listen', 'status.address', 'metrics.address', 'grpc.listen',
    ];

    /** @return array<string, string> key => host:port */
    public static function fromYaml(string $yaml): array
    {
        $flat = self::flatten($yaml);
        $out = [];
        foreach (self::KEYS as $key) {
            if (!isset($flat[$key])) {
                continue;
            }
            $addr = self::expand($flat[$key]);
            if (str_starts_with($addr, 'tcp://')) {
                $addr = substr($addr, 6);
            } elseif (str_contains($addr, '://')) {
                continue; // unix:// sockets
            }
            if (preg_match('/^(\[[^\]]*\]|[^:]*):(\d+)$/', $addr) === 1) {
                $out[$key] = $addr;
            }
        }

        return $out;
    }

    /** @return array<string, string> dotted path => scalar */
    public static function flatten(string $yaml): array
    {
        $flat = [];
        /** @var list<array{int, string}> $stack indentation and path of the open mappings */
        $stack = [];
        foreach (preg_split('/\R/', $yaml) ?: [] as $line) {
            $trimmed = ltrim($line, ' ');
            if ($trimmed === '' || $trimmed[0] === '#' || str_starts_with($trimmed, '- ') || $trimmed === '-') {
                continue;
            }
            if (preg_match('/^([A-Za-z0-9_.\-"\']+)\s*:(?:\s+(.*))?$/', $trimmed, $m) !== 1) {
                continue;
            }
            $indent = strlen($line) - strlen($trimmed);
            while ($stack !== [] && $stack[count($stack) - 1][0] >= $indent) {
                array_pop($stack);
            }
            $key = trim($m[1], '"\'');
            $path = $stack === [] ? $key : $stack[count($stack) - 1][1] . '.' . $key;
            $value = self::stripComment($m[2] ?? '');
            if ($value === '') {
                $stack[] = [$indent, $path];
                continue;
            }
            if ($value[0] === '{') {
                foreach (self::flow($value) as $k => $v) {
                    $flat[$path . '.' . $k] = $v;
                }
                continue;
            }
            $flat[$path] = self::unquote($value);
        }

        return $flat;
    }

    /** @return array<string, string> a flow mapping's scalars, nested ones dotted */
    private static function flow(string $s): array
    {
        $out = [];
        $pos = 0;
        self::flowMap($s, $pos, '', $out);

        return $out;
    }

    /** @param array<string, string> $out */
    private static function flowMap(string $s, int &$pos, string $prefix, array &$out): void
    {
        $pos++; // {
        $n = strlen($s);
        while ($pos < $n) {
            while ($pos < $n && ($s[$pos] === ' ' || $s[$pos] === ',')) {
                $pos++;
            }
            if ($pos >= $n || $s[$pos] === '}') {
                $pos++;

                return;
            }
            $colon = strpos($s, ':', $pos);
            if ($colon === false) {
                return;
            }
            $key = trim(substr($s, $pos, $colon - $pos), " \"'");
            $pos = $colon + 1;
            while ($pos < $n && $s[$pos] === ' ') {
                $pos++;
            }
            if ($pos < $n && $s[$pos] === '{') {
                self::flowMap($s, $pos, $prefix . $key . '.', $out);
                continue;
            }
            if ($pos < $n && ($s[$pos] === '"' || $s[$pos] === "'")) {
                $end = strpos($s, $s[$pos], $pos + 1);
                $end = $end === false ? $n : $end;
                $out[$prefix . $key] = substr($s, $pos + 1, $end - $pos - 1);
                $pos = $end + 1;
                continue;
            }
            $end = strcspn($s, ',}', $pos) + $pos;
            $out[$prefix . $key] = trim(substr($s, $pos, $end - $pos));
            $pos = $end;
        }
    }

    private static function stripComment(string $v): string
    {
        $v = trim($v);
        if ($v !== '' && ($v[0] === '"' || $v[0] === "'")) {
            $end = strpos($v, $v[0], 1);

            return $end === false ? $v : substr($v, 0, $end + 1);
        }
        $hash = strpos($v, ' #');

        return trim($hash === false ? $v : substr($v, 0, $hash));
    }

    private static function unquote(string $v): string
    {
        if (strlen($v) >= 2 && ($v[0] === '"' || $v[0] === "'") && $v[strlen($v) - 1] === $v[0]) {
            return substr($v, 1, -1);
        }

        return $v;
    }

    /** ${VAR} and ${VAR:-default}, as rr expands them. */
    public static function expand(string $v): string
    {
        return (string) preg_replace_callback('/\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}/', static function (array $m): string {
            $env = getenv($m[1]);

            return is_string($env) && $env !== '' ? $env : ($m[2] ?? '');
        }, $v);
    }
}
