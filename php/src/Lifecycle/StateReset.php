<?php

declare(strict_types=1);

namespace PivotPHP\Runtime\RoadRunner\Lifecycle;

/**
 * The reset step after every request: the framework's own state ({@see Handler::reset()}),
 * sessions, the response code, error display, then the application's onReset listeners.
 * Every step runs even when an earlier one fails; the failures are logged and returned, and
 * the caller replaces the worker (its state can no longer be trusted).
 */
final class StateReset
{
    /** Whether the SAPI had sent output when the worker started (a test runner has). */
    private readonly bool $outputSentAtStart;

    public function __construct(
        private readonly Hooks $hooks,
        private readonly Sessions $sessions,
        private readonly Log $log,
    ) {
        $this->outputSentAtStart = headers_sent();
    }

    /** @return list<string> what failed; empty when the worker is clean */
    public function reset(Handler $handler): array
    {
        // Three steps, each run even when an earlier one fails (no closures built per request).
        $failures = [];
        try {
            $handler->reset();
        } catch (\Throwable $e) {
            $this->stepFailed($e, $failures);
        }
        try {
            $this->sessions->reset();
        } catch (\Throwable $e) {
            $this->stepFailed($e, $failures);
        }
        try {
            self::resetPhpState();
        } catch (\Throwable $e) {
            $this->stepFailed($e, $failures);
        }
        foreach ($this->hooks->reset() as $e) {
            $this->log->exception($e, 'onReset listener failed');
            $failures[] = $e->getMessage();
        }
        if (!$this->outputSentAtStart && headers_sent($file, $line)) {
            // Output went past the capture into the SAPI (STDOUT): setcookie()/header() now warn.
            $failures[] = sprintf('output reached the SAPI (started at %s:%d)', $file, $line);
        }

        return $failures;
    }

    /** @param list<string> $failures */
    private function stepFailed(\Throwable $e, array &$failures): void
    {
        $this->log->exception($e, 'Reset step failed');
        $failures[] = $e->getMessage();
    }

    private static function resetPhpState(): void
    {
        if (!headers_sent()) {
            http_response_code(200);
            header_remove();
        }
        // Frameworks switch display_errors on, which in the CLI prints errors on STDOUT.
        $display = ini_get('display_errors');
        if ($display !== 'stderr' && !in_array(strtolower(trim((string) $display)), ['', '0', 'off', 'false', 'no', 'stderr'], true)) {
            ini_set('display_errors', 'stderr');
        }
    }
}
