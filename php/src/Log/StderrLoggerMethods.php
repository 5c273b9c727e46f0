<?php

declare(strict_types=1);

namespace PivotPHP\Runtime\RoadRunner\Log;

/**
 * The body of StderrLogger (declared with or without Psr\Log\LoggerInterface).
 *
 * @internal
 */
trait StderrLoggerMethods
{
    /** @var resource */
    private $stream;

    private int $minRank;

    /**
     * @param resource|null $stream where the lines go (default STDERR)
     * @param string $minLevel records below this PSR-3 level are not written
     */
    public function __construct($stream = null, string $minLevel = LogLine::DEBUG)
    {
        $stream ??= \defined('STDERR') ? \STDERR : fopen('php://stderr', 'wb');
        if (!\is_resource($stream)) {
            throw new \InvalidArgumentException('StderrLogger needs a writable stream resource');
        }
        $this->stream = $stream;
        $this->minRank = LogLine::rank($minLevel);
    }

    public function emergency($message, array $context = []): void
    {
        $this->log(LogLine::EMERGENCY, $message, $context);
    }

    public function alert($message, array $context = []): void
    {
        $this->log(LogLine::ALERT, $message, $context);
    }

    public function critical($message, array $context = []): void
    {
        $this->log(LogLine::CRITICAL, $message, $context);
    }

    public function error($message, array $context = []): void
    {
        $this->log(LogLine::ERROR, $message, $context);
    }

    public function warning($message, array $context = []): void
    {
        $this->log(LogLine::WARNING, $message, $context);
    }

    public function notice($message, array $context = []): void
    {
        $this->log(LogLine::NOTICE, $message, $context);
    }

    public function info($message, array $context = []): void
    {
        $this->log(LogLine::INFO, $message, $context);
    }

    public function debug($message, array $context = []): void
    {
        $this->log(LogLine::DEBUG, $message, $context);
    }

    /**
     * @param mixed $level a PSR-3 level (Psr\Log\LogLevel's strings)
     * @param string|\Stringable $message with {placeholders} replaced from $context
     */
    public function log($level, $message, array $context = []): void
    {
        if (LogLine::rank($level) < $this->minRank) {
            return;
        }
        // one write per record: a line shorter than the pipe's atomic size never interleaves
        // with another process's output
        fwrite($this->stream, LogLine::format((string) $level, $message, $context));
    }
}
