<?php

declare(strict_types=1);

namespace PivotPHP\Runtime\RoadRunner\Metrics;

/**
 * The definition of an application metric, declared at run time through metrics.Declare.
 *
 *     Collector::counter('Orders placed')->withLabels('channel')
 *     Collector::histogram('Checkout time in seconds', [0.1, 0.5, 1, 5])
 *
 * The exposed name is `<namespace>_<subsystem>_<name>` (empty parts left out).
 */
final class Collector
{
    public const COUNTER = 'counter';
    public const GAUGE = 'gauge';
    public const HISTOGRAM = 'histogram';
    public const SUMMARY = 'summary';

    /**
     * @param list<string> $labels
     * @param list<float>  $buckets
     */
    private function __construct(
        public readonly string $type,
        public readonly string $help,
        public readonly array $labels = [],
        public readonly array $buckets = [],
        public readonly string $namespace = '',
        public readonly string $subsystem = '',
    ) {
        foreach ($labels as $label) {
            $valid = is_string($label) && preg_match('/^[a-zA-Z_][a-zA-Z0-9_]*$/D', $label) === 1;
            if (!$valid || str_starts_with($label, '__')) {
                throw new \InvalidArgumentException(
                    sprintf('Metric label name %s is not a valid Prometheus label name', var_export($label, true)),
                );
            }
        }
        foreach ([$namespace, $subsystem] as $part) {
            if ($part !== '' && preg_match('/^[a-zA-Z_][a-zA-Z0-9_]*$/D', $part) !== 1) {
                throw new \InvalidArgumentException(
                    sprintf('Metric namespace/subsystem "%s" is not a valid Prometheus name part', $part),
                );
            }
        }
    }

    /** Only goes up: add() with a positive value. */
    public static function counter(string $help): self
    {
        return new self(self::COUNTER, $help);
    }

    /** Goes up and down: add(), sub(), set(). */
    public static function gauge(string $help): self
    {
        return new self(self::GAUGE, $help);
    }

    /** @param list<float|int> $buckets upper bounds; [] = Prometheus' defaults */
    public static function histogram(string $help, array $buckets = []): self
    {
        return new self(self::HISTOGRAM, $help, [], array_map('floatval', $buckets));
    }

    public static function summary(string $help): self
    {
        return new self(self::SUMMARY, $help);
    }

    public function withLabels(string ...$labels): self
    {
        return new self(
            $this->type,
            $this->help,
            array_values($labels),
            $this->buckets,
            $this->namespace,
            $this->subsystem,
        );
    }

    public function withNamespace(string $namespace, string $subsystem = ''): self
    {
        return new self($this->type, $this->help, $this->labels, $this->buckets, $namespace, $subsystem);
    }

    /** The `collector` object of metrics.Declare (NamedCollector in metrics/v4). */
    public function toRpc(): array
    {
        $collector = [
            'type' => $this->type,
            'help' => $this->help,
            'labels' => $this->labels,
            'buckets' => $this->buckets,
        ];
        if ($this->namespace !== '') {
            $collector['namespace'] = $this->namespace;
        }
        if ($this->subsystem !== '') {
            $collector['subsystem'] = $this->subsystem;
        }

        return $collector;
    }
}
