<?php

declare(strict_types=1);

namespace PivotPHP\Runtime\RoadRunner\Log;

/**
 * One log record as the JSON line pivot reads from a worker's stderr:
 * {"level":"warning","msg":"...", ...context}. pivot logs it at its level with the other keys
 * as fields, adding the worker's pid and the request id itself.
 */
final class LogLine
{
    public const EMERGENCY = 'emergency';
    public const ALERT = 'alert';
    public const CRITICAL = 'critical';
    public const ERROR = 'error';
    public const WARNING = 'warning';
    public const NOTICE = 'notice';
    public const INFO = 'info';
    public const DEBUG = 'debug';

    private const RANKS = [
        self::DEBUG => 0, self::INFO => 1, self::NOTICE => 2, self::WARNING => 3,
        self::ERROR => 4, self::CRITICAL => 5, self::ALERT => 6, self::EMERGENCY => 7,
    ];

    /** keys pivot sets itself: a context key of the same name is renamed */
    private const RESERVED = ['level' => true, 'msg' => true, 'message' => true, 'pid' => true];

    private function __construct()
    {
    }

    /** The rank of a PSR-3 level; an unknown level is an invalid argument, as PSR-3 says. */
    public static function rank(mixed $level): int
    {
        if (\is_string($level) && isset(self::RANKS[$level])) {
            return self::RANKS[$level];
        }
        $text = \is_scalar($level) ? (string) $level : get_debug_type($level);
        $class = class_exists(\Psr\Log\InvalidArgumentException::class)
            ? \Psr\Log\InvalidArgumentException::class
            : \InvalidArgumentException::class;
        throw new $class(sprintf('"%s" is not a PSR-3 log level (use one of %s)', $text, implode(', ', array_keys(self::RANKS))));
    }

    /**
     * @param array<array-key, mixed> $context
     */
    public static function format(string $level, mixed $message, array $context): string
    {
        $record = ['level' => $level, 'msg' => self::interpolate(self::text($message), $context)];
        foreach ($context as $key => $value) {
            $key = (string) $key;
            if (isset(self::RESERVED[$key])) {
                $key = 'context_' . $key;
            }
            $record[$key] = self::value($value);
        }
        $flags = \JSON_UNESCAPED_SLASHES | \JSON_UNESCAPED_UNICODE | \JSON_INVALID_UTF8_SUBSTITUTE | \JSON_PRESERVE_ZERO_FRACTION;
        $json = json_encode($record, $flags);
        if ($json === false) {
            // INF, NAN or a too-deep value: what can be encoded still is
            $json = (string) json_encode($record, $flags | \JSON_PARTIAL_OUTPUT_ON_ERROR);
        }
        return $json . "\n";
    }

    private static function text(mixed $message): string
    {
        if (\is_string($message)) {
            return $message;
        }
        if (\is_scalar($message) || $message === null || $message instanceof \Stringable) {
            return (string) $message;
        }
        return get_debug_type($message);
    }

    /** PSR-3's {placeholder} interpolation, for values that read as strings. */
    private static function interpolate(string $message, array $context): string
    {
        if (!str_contains($message, '{')) {
            return $message;
        }
        $replace = [];
        foreach ($context as $key => $value) {
            if ($value instanceof \Throwable) {
                $replace['{' . $key . '}'] = $value::class . ': ' . $value->getMessage(); // no trace in a message
            } elseif (\is_scalar($value) || $value === null || $value instanceof \Stringable) {
                $replace['{' . $key . '}'] = \is_bool($value) ? ($value ? 'true' : 'false') : (string) $value;
            } elseif ($value instanceof \DateTimeInterface) {
                $replace['{' . $key . '}'] = $value->format(\DateTimeInterface::RFC3339);
            }
        }
        return strtr($message, $replace);
    }

    /** A context value as JSON can carry it: exceptions as their class, message and place. */
    private static function value(mixed $value, int $depth = 0): mixed
    {
        if ($value instanceof \Throwable) {
            $out = [
                'class' => $value::class,
                'message' => $value->getMessage(),
                'code' => $value->getCode(),
                'file' => $value->getFile() . ':' . $value->getLine(),
            ];
            if ($value->getPrevious() !== null && $depth < 5) {
                $out['previous'] = self::value($value->getPrevious(), $depth + 1);
            }
            return $out;
        }
        if ($value instanceof \DateTimeInterface) {
            return $value->format(\DateTimeInterface::RFC3339_EXTENDED);
        }
        if ($value instanceof \JsonSerializable) {
            return $value;
        }
        if ($value instanceof \Stringable) {
            return (string) $value;
        }
        if (\is_object($value)) {
            return ['class' => $value::class];
        }
        if (\is_resource($value)) {
            return 'resource(' . get_resource_type($value) . ')';
        }
        if (\is_array($value) && $depth < 8) {
            return array_map(static fn (mixed $v): mixed => self::value($v, $depth + 1), $value);
        }
        return $value;
    }
}
