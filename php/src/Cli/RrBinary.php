<?php

declare(strict_types=1);

namespace PivotPHP\Runtime\RoadRunner\Cli;

/**
 * Where the `rr` binary is: $RR_BINARY, else beside the project (the directory holding
 * composer.json, from the working directory up: ./rr, vendor/bin/rr), else on PATH.
 */
final class RrBinary
{
    public static function find(string $workDir): ?string
    {
        foreach (self::candidates($workDir) as $path) {
            if (is_file($path) && is_executable($path)) {
                return $path;
            }
        }

        return null;
    }

    /**
     * Every place looked at, in order (doctor lists them when none holds rr).
     *
     * @return list<string>
     */
    public static function candidates(string $workDir): array
    {
        $out = [];
        $env = getenv('RR_BINARY');
        if (is_string($env) && $env !== '') {
            return [$env]; // explicit: nothing else is tried
        }
        foreach (array_unique([$workDir, self::projectRoot($workDir)]) as $dir) {
            if ($dir !== null) {
                $out[] = $dir . '/rr';
                $out[] = $dir . '/vendor/bin/rr';
            }
        }
        foreach (explode(PATH_SEPARATOR, (string) getenv('PATH')) as $dir) {
            if ($dir !== '') {
                $out[] = rtrim($dir, '/') . '/rr';
            }
        }

        return array_values(array_unique($out));
    }

    /** The nearest directory at or above $dir that holds composer.json. */
    public static function projectRoot(string $dir): ?string
    {
        $dir = realpath($dir) ?: $dir;
        while (true) {
            if (is_file($dir . '/composer.json')) {
                return $dir;
            }
            $parent = dirname($dir);
            if ($parent === $dir) {
                return null;
            }
            $dir = $parent;
        }
    }

    public static function howToInstall(): string
    {
        return 'Fix: build it from pivotphp-runtime-roadrunner (go build -o rr ./cmd/rr) and put it beside your'
            . ' project, on PATH, or at RR_BINARY=/path/to/rr. (The stock RoadRunner binary lacks the pivot plugin.)';
    }
}
