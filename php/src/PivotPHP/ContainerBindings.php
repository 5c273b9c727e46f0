<?php

declare(strict_types=1);

namespace PivotPHP\Runtime\RoadRunner\PivotPHP;

/**
 * The application container's bindings as they were after boot, put back after every request.
 *
 * PivotPHP's container (`PivotPHP\Core\Providers\Container`, one per Application, every core
 * line) has no request scope: a binding made while handling a request — `$app->instance('user',
 * $user)`, `bind('request', ...)` — would be seen by every later request of the worker. After a
 * request, what was bound or rebound since boot is dropped, and bindings it replaced come back.
 * Services first resolved during a request (lazy singletons: logger, event dispatcher) stay: they
 * are the application's, not the request's.
 */
final class ContainerBindings
{
    /** The container's binding tables; `instances` (resolved singletons) is restored per binding. */
    private const TABLES = ['services', 'factories', 'shared', 'aliases'];

    private ?\Closure $read = null;
    private ?\Closure $write = null;

    /** @var array<string, array<string, mixed>>|null the tables after boot */
    private ?array $baseline = null;

    public function capture(object $container): void
    {
        if (!$this->bindTo($container)) {
            return;
        }
        $this->baseline = ($this->read)();
    }

    /** @return list<string> the ids dropped or restored (empty when nothing changed) */
    public function restore(): array
    {
        if ($this->baseline === null || $this->read === null || $this->write === null) {
            return [];
        }
        $now = ($this->read)();
        $unchanged = true;
        foreach (self::TABLES as $table) {
            if ($now[$table] !== $this->baseline[$table]) {
                $unchanged = false;
                break;
            }
        }
        if ($unchanged) {
            return [];
        }
        $changed = [];
        foreach (self::TABLES as $table) {
            foreach ($now[$table] + $this->baseline[$table] as $id => $_) {
                $before = array_key_exists($id, $this->baseline[$table]) ? $this->baseline[$table][$id] : null;
                $after = array_key_exists($id, $now[$table]) ? $now[$table][$id] : null;
                if ($before !== $after || array_key_exists($id, $now[$table]) !== array_key_exists($id, $this->baseline[$table])) {
                    $changed[(string) $id] = true;
                }
            }
        }
        ($this->write)($this->baseline, array_keys($changed));

        return array_map('strval', array_keys($changed));
    }

    /** Reads and writes the container's private tables; false for a container of another shape. */
    private function bindTo(object $container): bool
    {
        foreach ([...self::TABLES, 'instances'] as $property) {
            if (!property_exists($container, $property)) {
                return false;
            }
        }
        $tables = self::TABLES;
        $this->read = \Closure::bind(function () use ($tables): array {
            $state = [];
            foreach ([...$tables, 'instances'] as $table) {
                $state[$table] = is_array($this->{$table}) ? $this->{$table} : [];
            }

            return $state;
        }, $container, $container::class);
        $this->write = \Closure::bind(function (array $baseline, array $changed) use ($tables): void {
            foreach ($tables as $table) {
                $this->{$table} = $baseline[$table];
            }
            foreach ($changed as $id) {
                // What was built from a binding the request made or replaced goes with it.
                if (array_key_exists($id, $baseline['instances'])) {
                    $this->instances[$id] = $baseline['instances'][$id];
                } else {
                    unset($this->instances[$id]);
                }
            }
        }, $container, $container::class);

        return true;
    }
}
