<?php

declare(strict_types=1);

namespace PivotPHP\Runtime\RoadRunner\Tests\Support;

/**
 * A stream wrapper that hands out at most N bytes per read and accepts at most N bytes per
 * write, like a pipe under pressure: proves that relays loop until a frame is complete.
 *
 * Open `trickle://<name>` after {@see TrickleStream::register()}; writes are appended to
 * the same buffer that reads consume.
 */
final class TrickleStream
{
    public const SCHEME = 'trickle';

    /** @var array<string, array{data: string, chunk: int}> */
    private static array $buffers = [];

    /** @var resource|null set by PHP for wrappers */
    public $context;

    private string $name = '';
    private int $position = 0;

    public static function register(): void
    {
        if (!in_array(self::SCHEME, stream_get_wrappers(), true)) {
            stream_wrapper_register(self::SCHEME, self::class);
        }
    }

    /** @return resource */
    public static function open(string $data, int $chunk): mixed
    {
        self::register();
        $name = uniqid('t', true);
        self::$buffers[$name] = ['data' => $data, 'chunk' => $chunk];

        return fopen(self::SCHEME . '://' . $name, 'r+b');
    }

    public static function contents($stream): string
    {
        $name = substr(stream_get_meta_data($stream)['uri'], strlen(self::SCHEME . '://'));

        return self::$buffers[$name]['data'];
    }

    public function stream_open(string $path, string $mode, int $options, ?string &$openedPath): bool
    {
        $this->name = substr($path, strlen(self::SCHEME . '://'));

        return isset(self::$buffers[$this->name]);
    }

    public function stream_read(int $count): string
    {
        $buffer = &self::$buffers[$this->name];
        $chunk = substr($buffer['data'], $this->position, min($count, $buffer['chunk']));
        $this->position += strlen($chunk);

        return $chunk;
    }

    public function stream_write(string $data): int
    {
        $buffer = &self::$buffers[$this->name];
        $accepted = substr($data, 0, $buffer['chunk']);
        $buffer['data'] .= $accepted;

        return strlen($accepted);
    }

    public function stream_eof(): bool
    {
        return $this->position >= strlen(self::$buffers[$this->name]['data']);
    }

    public function stream_close(): void
    {
        unset(self::$buffers[$this->name]);
    }

    public function stream_stat(): array
    {
        return ['size' => strlen(self::$buffers[$this->name]['data'])];
    }
}
