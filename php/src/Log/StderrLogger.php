<?php

declare(strict_types=1);

namespace PivotPHP\Runtime\RoadRunner\Log;

/*
 * A PSR-3 logger that writes one JSON line per record to STDERR, where pivot reads it: each
 * line is logged by RoadRunner's logger at the record's level, with the worker's pid, the
 * request the worker was running, and the record's context as fields (pivot.worker_logs).
 *
 * It implements Psr\Log\LoggerInterface when psr/log is loaded (any of its versions: the
 * methods take an untyped message, which every version's signature accepts); without psr/log
 * it is the same class with the same methods, so the package needs nothing at run time. Load
 * psr/log (Composer's autoloader) before the first use of this class for the interface.
 */
if (interface_exists(\Psr\Log\LoggerInterface::class)) {
    final class StderrLogger implements \Psr\Log\LoggerInterface
    {
        use StderrLoggerMethods;
    }
} else {
    final class StderrLogger
    {
        use StderrLoggerMethods;
    }
}
