<?php

declare(strict_types=1);

/*
 * Standalone PSR-4 autoloader for pivotphp/runtime-roadrunner, so that a worker script can
 * `require` the package without running `composer install`. Composer users do not need it.
 */

spl_autoload_register(static function (string $class): void {
    static $prefix = 'PivotPHP\\Runtime\\RoadRunner\\';

    if (strncmp($class, $prefix, strlen($prefix)) !== 0) {
        return;
    }

    $file = __DIR__ . '/src/' . str_replace('\\', '/', substr($class, strlen($prefix))) . '.php';
    if (is_file($file)) {
        require $file;
    }
});
