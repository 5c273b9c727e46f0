<?php

declare(strict_types=1);

namespace PivotPHP\Runtime\RoadRunner\Lifecycle;

/**
 * The runtime's log: one line per message on STDERR, which RoadRunner collects. STDOUT belongs
 * to the frames.
 */
final class Log
{
    /** @var resource */
    private $stream;

    /** @param resource|null $stream default STDERR */
    public function __construct($stream = null)
    {
        if ($stream === null) {
            $stream = defined('STDERR') ? STDERR : fopen('php://stderr', 'wb');
        }
        if (!is_resource($stream)) {
            throw new \InvalidArgumentException('The log needs a writable stream');
        }
        $this->stream = $stream;
    }

    public function write(string $message): void
    {
        // One line per message: RoadRunner logs each STDERR line as its own entry.
        $line = sprintf("[pivotphp-rr %d] %s\n", (int) getmypid(), str_replace(["\r\n", "\n"], ' | ', rtrim($message)));
        @fwrite($this->stream, $line);
    }

    public function exception(\Throwable $error, string $while): void
    {
        $this->write(sprintf(
            '%s: %s: %s in %s:%d | %s',
            $while,
            $error::class,
            $error->getMessage(),
            $error->getFile(),
            $error->getLine(),
            $error->getTraceAsString(),
        ));
    }
}
