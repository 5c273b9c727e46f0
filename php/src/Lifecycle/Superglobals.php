<?php

declare(strict_types=1);

namespace PivotPHP\Runtime\RoadRunner\Lifecycle;

use PivotPHP\Runtime\RoadRunner\Http\Request;

/**
 * Fills `$_SERVER`, `$_GET`, `$_POST`, `$_COOKIE`, `$_FILES` and `$_REQUEST` for one request, as
 * PHP-FPM would, and puts the worker's own values back afterwards.
 *
 * The base state is taken when the object is built (after the application booted). Keys that
 * describe a request (`HTTP_*`, `REQUEST_*`, `CONTENT_*`, `QUERY_STRING`, `HTTPS`, ...) are
 * dropped from the base `$_SERVER`: in the CLI `$_SERVER` holds the environment, and an
 * `HTTP_PROXY` variable must not look like a request header (httpoxy).
 */
final class Superglobals
{
    private const REQUEST_KEYS = [
        'REQUEST_METHOD', 'REQUEST_URI', 'REQUEST_SCHEME', 'REQUEST_TIME', 'REQUEST_TIME_FLOAT',
        'QUERY_STRING', 'SERVER_PROTOCOL', 'SERVER_NAME', 'SERVER_PORT', 'REMOTE_ADDR', 'REMOTE_PORT',
        'HTTPS', 'CONTENT_TYPE', 'CONTENT_LENGTH', 'PATH_INFO', 'REQUEST_ID',
    ];

    /** @var array<string, array<mixed>> the worker's own superglobals */
    private readonly array $base;

    /** @var array<string, mixed> $_SERVER without request keys */
    private readonly array $baseServer;

    private bool $applied = false;

    /** @var array<string, string> header name => its `$_SERVER` key (`X-Foo` => `X_FOO`), see serverKey() */
    private static array $serverKeys = [];

    /** The last splitHost() input and result: a worker mostly sees one Host. */
    private static string $lastHost = '';
    private static int $lastDefaultPort = 0;
    /** @var array{0: string, 1: int} */
    private static array $lastSplit = ['', 0];

    public function __construct()
    {
        $this->base = [
            'server' => $_SERVER,
            'get' => $_GET,
            'post' => $_POST,
            'cookie' => $_COOKIE,
            'files' => $_FILES,
            'request' => $_REQUEST,
        ];
        $this->baseServer = self::withoutRequestKeys($_SERVER);
    }

    /** Fills the superglobals for $request; they stay until {@see restore()}. */
    public function apply(Request $request): void
    {
        $_SERVER = self::serverParams($request, $this->baseServer);
        $_GET = $request->query;
        $_POST = $request->parsed ? ($request->parsedBody ?? []) : [];
        $_COOKIE = $request->cookies;
        $_FILES = $request->uploads === null ? [] : UploadedFiles::toFilesArray($request->uploads);
        $_REQUEST = $_POST === [] ? $_GET : array_replace($_GET, $_POST); // request_order "GP"
        $this->applied = true;
    }

    /** Puts the worker's own superglobals back. */
    public function restore(): void
    {
        $_SERVER = $this->base['server'];
        $_GET = $this->base['get'];
        $_POST = $this->base['post'];
        $_COOKIE = $this->base['cookie'];
        $_FILES = $this->base['files'];
        $_REQUEST = $this->base['request'];
        $this->applied = false;
    }

    public function isApplied(): bool
    {
        return $this->applied;
    }

    /**
     * `$_SERVER` for a request: $base plus REQUEST_METHOD, REQUEST_URI (path and query),
     * QUERY_STRING, SERVER_PROTOCOL, HTTP_HOST, SERVER_NAME, SERVER_PORT, REQUEST_SCHEME, HTTPS,
     * REMOTE_ADDR, REQUEST_TIME[_FLOAT], REQUEST_ID (the X-Request-Id pivot sets), one HTTP_* per header, and CONTENT_TYPE/CONTENT_LENGTH
     * together with their HTTP_ copies (PivotPHP reads headers from HTTP_* only).
     *
     * @param array<string, mixed> $base
     *
     * @return array<string, mixed>
     */
    public static function serverParams(Request $request, array $base = []): array
    {
        $server = $base;
        $path = $request->path();
        $https = strncasecmp($request->uri, 'https://', 8) === 0;
        $host = $request->host();
        $defaultPort = $https ? 443 : 80;
        if ($host !== self::$lastHost || $defaultPort !== self::$lastDefaultPort) {
            self::$lastSplit = self::splitHost($host, $defaultPort);
            self::$lastHost = $host;
            self::$lastDefaultPort = $defaultPort;
        }
        [$name, $port] = self::$lastSplit;

        $server['REQUEST_METHOD'] = $request->method;
        $server['REQUEST_URI'] = $request->rawQuery === '' ? $path : $path . '?' . $request->rawQuery;
        $server['QUERY_STRING'] = $request->rawQuery;
        $server['SERVER_PROTOCOL'] = $request->protocol;
        $server['REQUEST_SCHEME'] = $https ? 'https' : 'http';
        if ($https) {
            $server['HTTPS'] = 'on';
        }
        $server['SERVER_NAME'] = $name;
        $server['SERVER_PORT'] = (string) $port;
        $server['REMOTE_ADDR'] = is_string($request->attributes['ipAddress'] ?? null)
            ? $request->attributes['ipAddress']
            : $request->remoteAddr;
        $server['REQUEST_TIME'] = time();
        $server['REQUEST_TIME_FLOAT'] = microtime(true);
        if ($host !== '') {
            $server['HTTP_HOST'] = $host;
        }
        $requestId = $request->requestId();
        if ($requestId !== null) {
            $server['REQUEST_ID'] = $requestId; // pivot's X-Request-Id, for logs and error pages
        }

        foreach ($request->headers as $header => $values) {
            $key = self::$serverKeys[$header] ?? self::serverKey($header);
            if ($key === 'HOST' && $host !== '') {
                continue;
            }
            $value = implode($key === 'COOKIE' ? '; ' : ', ', $values);
            $server['HTTP_' . $key] = $value;
            if ($key === 'CONTENT_TYPE' || $key === 'CONTENT_LENGTH') {
                $server[$key] = $value;
            }
        }

        return $server;
    }

    /** `X-Foo` => `X_FOO`, remembered for the next requests (up to 512 names). */
    private static function serverKey(string $header): string
    {
        if (count(self::$serverKeys) >= 512) {
            self::$serverKeys = [];
        }

        return self::$serverKeys[$header] = strtoupper(str_replace('-', '_', $header));
    }

    /** @return array<string, mixed> */
    private static function withoutRequestKeys(array $server): array
    {
        foreach (array_keys($server) as $key) {
            if (is_string($key) && (str_starts_with($key, 'HTTP_') || in_array($key, self::REQUEST_KEYS, true))) {
                unset($server[$key]);
            }
        }

        return $server;
    }

    /** @return array{0: string, 1: int} host name (IPv6 keeps its brackets) and port */
    private static function splitHost(string $host, int $defaultPort): array
    {
        if (preg_match('/^(\[[^\]]*\]|[^:]*)(?::(\d+))?$/', $host, $m) !== 1) {
            return [$host, $defaultPort];
        }

        return [$m[1], isset($m[2]) && $m[2] !== '' ? (int) $m[2] : $defaultPort];
    }
}
