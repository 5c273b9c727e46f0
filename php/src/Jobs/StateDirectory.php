<?php

declare(strict_types=1);

namespace PivotPHP\Runtime\RoadRunner\Jobs;

/**
 * Where the consumer keeps its local state (in-flight journal, attempt counters):
 * `PIVOT_JOBS_DIR` if set, else a directory in the system temp dir unique to this RoadRunner
 * instance (keyed by its RPC address and working directory), shared by all its workers.
 */
final class StateDirectory
{
    public const ENVIRONMENT_VARIABLE = 'PIVOT_JOBS_DIR';

    public static function fromEnvironment(): string
    {
        $directory = getenv(self::ENVIRONMENT_VARIABLE);
        if (is_string($directory) && trim($directory) !== '') {
            return rtrim(trim($directory), '/');
        }
        $instance = (string) getenv('RR_RPC') . "\0" . (string) getcwd();

        return sys_get_temp_dir() . '/pivotphp-jobs-' . substr(sha1($instance), 0, 12);
    }
}
