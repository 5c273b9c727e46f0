<?php

declare(strict_types=1);

namespace PivotPHP\Runtime\RoadRunner\Lifecycle;

/**
 * RoadRunner's upload tree (wire-protocol.md §3.4) as PHP's own `$_FILES`: a single file is
 * `['name', 'full_path', 'type', 'tmp_name', 'error', 'size']`; for `files[]` and
 * `nested[a][b]` each of those six keys holds the tree, exactly as PHP-FPM builds it
 * (`$_FILES['files']['name'][0]`).
 *
 * The temp files belong to RoadRunner, which deletes them once the response is sent: read or
 * copy them during the request (`rename()`/`copy()`, not `move_uploaded_file()`).
 */
final class UploadedFiles
{
    private const FIELDS = ['name', 'full_path', 'type', 'tmp_name', 'error', 'size'];

    /**
     * @param array<mixed>|null $uploads the request's `uploads` tree, null when not multipart
     *
     * @return array<string, array<string, mixed>>
     */
    public static function toFilesArray(?array $uploads): array
    {
        $files = [];
        foreach ($uploads ?? [] as $field => $node) {
            if (!is_array($node)) {
                continue;
            }
            if (self::isFile($node)) {
                $files[(string) $field] = self::file($node);
                continue;
            }
            foreach (self::FIELDS as $key) {
                $files[(string) $field][$key] = self::column($node, $key);
            }
        }

        return $files;
    }

    /** A leaf is a FileUpload object; a form field may itself be called "name". */
    private static function isFile(array $node): bool
    {
        return isset($node['name']) && is_string($node['name']) && array_key_exists('error', $node);
    }

    /** @return array{name: string, full_path: string, type: string, tmp_name: string, error: int, size: int} */
    private static function file(array $node): array
    {
        $error = (int) $node['error'];

        return [
            'name' => $node['name'],
            'full_path' => $node['name'],
            'type' => is_string($node['mime'] ?? null) ? $node['mime'] : '',
            'tmp_name' => is_string($node['tmpName'] ?? null) ? $node['tmpName'] : '',
            'error' => $error,
            'size' => isset($node['size']) ? (int) $node['size'] : 0,
        ];
    }

    /** @return array<mixed> the tree with every file replaced by one of its fields */
    private static function column(array $tree, string $key): array
    {
        $column = [];
        foreach ($tree as $name => $node) {
            if (is_array($node)) {
                $column[$name] = self::isFile($node) ? self::file($node)[$key] : self::column($node, $key);
            }
        }

        return $column;
    }
}
