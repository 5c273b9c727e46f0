<?php

declare(strict_types=1);

namespace PivotPHP\Runtime\RoadRunner\Metrics;

use PivotPHP\Runtime\RoadRunner\Rpc\RpcClient;
use PivotPHP\Runtime\RoadRunner\Rpc\RpcException;
use PivotPHP\Runtime\RoadRunner\Rpc\RpcInterface;
use PivotPHP\Runtime\RoadRunner\Rpc\ServiceException;

/**
 * Application metrics through RoadRunner's metrics plugin (metrics.* RPC, JSON codec), served
 * with RoadRunner's own on `metrics.address` (`curl 127.0.0.1:2112/metrics`).
 *
 *     $metrics = Metrics::fromEnvironment();
 *     $metrics->declare('orders_total', Collector::counter('Orders placed')->withLabels('channel'));
 *     $metrics->add('orders_total', 1, ['web']);
 *
 * Metrics live in RoadRunner, not in the worker, so every worker would declare the same
 * ones. Two ways that stay quiet:
 *
 * - define() a collector: nothing is sent until the first add/sub/observe/set finds it
 *   undeclared in RoadRunner; then it is declared and the call repeated (also after a
 *   RoadRunner restart, which forgets declared collectors);
 * - or declare it in .rr.yaml (`metrics.collect`) and only add/observe/set from PHP.
 *
 * declare() sends metrics.Declare at once and accepts a name that is already declared (it
 * does not compare the definitions; RoadRunner logs the duplicate at error level).
 */
final class Metrics
{
    private const ALREADY_DECLARED = 'tried to register existing collector';
    private const UNDECLARED = 'undefined collector';

    /** @var array<string, Collector> */
    private array $definitions = [];

    public function __construct(private readonly RpcInterface $rpc)
    {
    }

    public static function fromEnvironment(): self
    {
        return new self(RpcClient::fromEnvironment());
    }

    /** Remembers $collector; it is declared in RoadRunner on first use ({@see self}). */
    public function define(string $name, Collector $collector): self
    {
        self::assertName($name);
        $this->definitions[$name] = $collector;

        return $this;
    }

    public function declare(string $name, Collector $collector): void
    {
        self::assertName($name);
        try {
            $this->rpc->call('metrics.Declare', ['name' => $name, 'collector' => $collector->toRpc()]);
        } catch (ServiceException $e) {
            if (!str_contains($e->serverMessage, self::ALREADY_DECLARED)) {
                throw new MetricsException(sprintf('Declaring metric "%s"', $name), $e);
            }
        } catch (RpcException $e) {
            throw new MetricsException(sprintf('Declaring metric "%s"', $name), $e);
        }
    }

    /** @param list<string> $labels label values, in the declared order (counter, gauge) */
    public function add(string $name, float $value, array $labels = []): void
    {
        $this->metric('metrics.Add', $name, $value, $labels);
    }

    /** @param list<string> $labels (gauge) */
    public function sub(string $name, float $value, array $labels = []): void
    {
        $this->metric('metrics.Sub', $name, $value, $labels);
    }

    /** @param list<string> $labels (histogram, summary) */
    public function observe(string $name, float $value, array $labels = []): void
    {
        $this->metric('metrics.Observe', $name, $value, $labels);
    }

    /** @param list<string> $labels (gauge) */
    public function set(string $name, float $value, array $labels = []): void
    {
        $this->metric('metrics.Set', $name, $value, $labels);
    }

    public function unregister(string $name): void
    {
        try {
            $this->rpc->call('metrics.Unregister', $name);
        } catch (RpcException $e) {
            throw new MetricsException(sprintf('Unregistering metric "%s"', $name), $e);
        }
    }

    /** @param list<string> $labels */
    private function metric(string $method, string $name, float $value, array $labels): void
    {
        foreach ($labels as $label) {
            if (!is_string($label)) {
                throw new \InvalidArgumentException(
                    sprintf('Metric "%s": label values must be strings, got %s', $name, get_debug_type($label)),
                );
            }
        }
        if (!is_finite($value)) {
            throw new \InvalidArgumentException(sprintf('Metric "%s": the value must be finite', $name));
        }
        // metrics/v4's Metric struct has no JSON tags: Go field names.
        $metric = ['Name' => $name, 'Value' => $value, 'Labels' => array_values($labels)];
        try {
            try {
                $this->rpc->call($method, $metric);
            } catch (ServiceException $e) {
                if (!isset($this->definitions[$name]) || !str_contains($e->serverMessage, self::UNDECLARED)) {
                    throw $e;
                }
                $this->declare($name, $this->definitions[$name]);
                $this->rpc->call($method, $metric);
            }
        } catch (RpcException $e) {
            throw new MetricsException(sprintf('%s on metric "%s"', substr($method, strlen('metrics.')), $name), $e);
        }
    }

    private static function assertName(string $name): void
    {
        if (preg_match('/^[a-zA-Z_:][a-zA-Z0-9_:]*$/D', $name) !== 1) {
            throw new \InvalidArgumentException(
                sprintf('Metric name "%s" is not a valid Prometheus metric name', $name),
            );
        }
    }
}
