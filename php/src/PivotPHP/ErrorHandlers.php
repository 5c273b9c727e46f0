<?php

declare(strict_types=1);

namespace PivotPHP\Runtime\RoadRunner\PivotPHP;

/**
 * The PHP error and exception handlers as they were after boot, put back after every request.
 *
 * PivotPHP 1.x to 3.x install theirs in the Application's constructor and boot() (the baseline:
 * kept, as under PHP-FPM); 4.x and 5.x install them only in `run()`, which a worker never calls.
 * A handler a request leaves behind (a route calling `run()` or `set_error_handler()`, a library
 * that forgets to restore) would otherwise judge every later request's warnings.
 */
final class ErrorHandlers
{
    /** Handlers a request pushed are popped; past this many, the baseline is pushed again. */
    private const MAX_POPS = 8;

    private mixed $errorHandler = null;
    private mixed $exceptionHandler = null;

    /** Takes the current handlers as the baseline. */
    public function capture(): void
    {
        $this->errorHandler = self::currentErrorHandler();
        $this->exceptionHandler = self::currentExceptionHandler();
    }

    /** @return bool whether a handler had to be put back */
    public function restore(): bool
    {
        $changed = false;
        for ($i = 0; $i < self::MAX_POPS && self::currentErrorHandler() !== $this->errorHandler; ++$i) {
            $changed = true;
            if ($i === self::MAX_POPS - 1 || !restore_error_handler()) {
                set_error_handler($this->errorHandler);
                break;
            }
        }
        for ($i = 0; $i < self::MAX_POPS && self::currentExceptionHandler() !== $this->exceptionHandler; ++$i) {
            $changed = true;
            if ($i === self::MAX_POPS - 1 || !restore_exception_handler()) {
                set_exception_handler($this->exceptionHandler);
                break;
            }
        }

        return $changed;
    }

    public static function currentErrorHandler(): mixed
    {
        $handler = set_error_handler(null);
        restore_error_handler();

        return $handler;
    }

    public static function currentExceptionHandler(): mixed
    {
        $handler = set_exception_handler(null);
        restore_exception_handler();

        return $handler;
    }
}
