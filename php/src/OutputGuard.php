<?php

declare(strict_types=1);

namespace PivotPHP\Runtime\RoadRunner;

/**
 * Keeps STDOUT for frames only: any echo/print/var_dump and PHP error display goes to STDERR,
 * which RoadRunner logs. A single stray byte on STDOUT breaks the next frame's CRC and gets
 * the worker killed (wire-protocol.md §2.9).
 */
final class OutputGuard
{
    private static bool $installed = false;

    public static function install(): void
    {
        ini_set('display_errors', 'stderr');

        if (self::$installed) {
            return;
        }
        self::$installed = true;

        $stderr = defined('STDERR') ? STDERR : fopen('php://stderr', 'wb');

        // Chunk size 1 flushes after every output call, so nothing lingers in the buffer.
        ob_start(static function (string $buffer) use ($stderr): string {
            if ($buffer !== '') {
                fwrite($stderr, $buffer);
            }

            return '';
        }, 1);
    }

    public static function isInstalled(): bool
    {
        return self::$installed;
    }
}
