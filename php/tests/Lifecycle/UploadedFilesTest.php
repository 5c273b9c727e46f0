<?php

declare(strict_types=1);

namespace PivotPHP\Runtime\RoadRunner\Tests\Lifecycle;

use PHPUnit\Framework\TestCase;
use PivotPHP\Runtime\RoadRunner\Lifecycle\UploadedFiles;

final class UploadedFilesTest extends TestCase
{
    public function testBuildsPhpsOwnFilesLayout(): void
    {
        $files = UploadedFiles::toFilesArray([
            'doc' => self::upload('hello.txt', 'text/plain', 11, 0, '/tmp/upload1'),
            'many' => [
                self::upload('a.txt', 'text/plain', 1, 0, '/tmp/upload2'),
                self::upload('b.bin', 'application/octet-stream', 2, 0, '/tmp/upload3'),
            ],
            'nested' => ['one' => ['two' => self::upload('evil.php', 'application/octet-stream', 0, 8, '')]],
        ]);

        self::assertSame([
            'doc' => [
                'name' => 'hello.txt',
                'full_path' => 'hello.txt',
                'type' => 'text/plain',
                'tmp_name' => '/tmp/upload1',
                'error' => 0,
                'size' => 11,
            ],
            'many' => [
                'name' => ['a.txt', 'b.bin'],
                'full_path' => ['a.txt', 'b.bin'],
                'type' => ['text/plain', 'application/octet-stream'],
                'tmp_name' => ['/tmp/upload2', '/tmp/upload3'],
                'error' => [0, 0],
                'size' => [1, 2],
            ],
            'nested' => [
                'name' => ['one' => ['two' => 'evil.php']],
                'full_path' => ['one' => ['two' => 'evil.php']],
                'type' => ['one' => ['two' => 'application/octet-stream']],
                'tmp_name' => ['one' => ['two' => '']],
                'error' => ['one' => ['two' => UPLOAD_ERR_EXTENSION]],
                'size' => ['one' => ['two' => 0]],
            ],
        ], $files);
    }

    public function testFieldCalledNameIsNotAFile(): void
    {
        $files = UploadedFiles::toFilesArray([
            'form' => ['name' => ['name' => 'x.txt', 'mime' => 'text/plain', 'size' => 1, 'error' => 0, 'tmpName' => '/tmp/u']],
        ]);

        self::assertSame(['name' => 'x.txt'], $files['form']['name']);
        self::assertSame(['name' => '/tmp/u'], $files['form']['tmp_name']);
    }

    public function testNoUploads(): void
    {
        self::assertSame([], UploadedFiles::toFilesArray(null));
        self::assertSame([], UploadedFiles::toFilesArray([]));
        self::assertSame([], UploadedFiles::toFilesArray(['junk' => 'not a file']));
    }

    private static function upload(string $name, string $mime, int $size, int $error, string $tmpName): array
    {
        return ['name' => $name, 'mime' => $mime, 'size' => $size, 'error' => $error, 'tmpName' => $tmpName];
    }
}
