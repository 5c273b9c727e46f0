<?php

declare(strict_types=1);

namespace PivotPHP\Runtime\RoadRunner\Tests\Support;

use PivotPHP\Runtime\RoadRunner\Http\Request;
use PivotPHP\Runtime\RoadRunner\Lifecycle\Handler;
use PivotPHP\Runtime\RoadRunner\Lifecycle\Response;

/**
 * A test double of the *application*: it behaves like the frameworks written for one request per
 * process (PivotPHP among them) — reads the superglobals, prints its body (and marks it printed,
 * as PivotPHP's json() does), pops output buffers while streaming, calls header()/setcookie(),
 * uses native sessions and keeps static state — so that the runtime's isolation can be tested
 * without the framework.
 */
final class FakeApp implements Handler
{
    /** A static cache, as applications keep them; reset by an onReset listener. */
    public static array $cache = [];

    public int $resets = 0;

    public function handle(Request $request): Response
    {
        $path = (string) parse_url($_SERVER['REQUEST_URI'], PHP_URL_PATH);

        return match ($path) {
            '/echo' => $this->printJson($this->describe($request)),
            '/session' => $this->session(),
            '/stream' => $this->stream(),
            '/static' => $this->remember(),
            '/print' => $this->printBeforeBody(),
            '/header-cookie' => $this->headerAndCookie(),
            '/boom' => throw new \RuntimeException('boom from the fake app'),
            '/warning' => $this->warning(),
            default => new Response(404, ['Content-Type' => 'text/plain'], 'no route for ' . $path),
        };
    }

    public function reset(): void
    {
        ++$this->resets;
    }

    public static function clearCache(): void
    {
        self::$cache = [];
    }

    /** Everything the request can see through the superglobals. */
    private function describe(Request $request): array
    {
        $headers = [];
        foreach ($_SERVER as $key => $value) {
            if (is_string($key) && str_starts_with($key, 'HTTP_')) {
                $headers[$key] = $value;
            }
        }
        ksort($headers);

        return [
            'method' => $_SERVER['REQUEST_METHOD'],
            'uri' => $_SERVER['REQUEST_URI'],
            'query_string' => $_SERVER['QUERY_STRING'],
            'get' => $_GET,
            'post' => $_POST,
            'request' => $_REQUEST,
            'cookies' => $_COOKIE,
            'files' => $_FILES,
            'headers' => $headers,
            'content_type' => $_SERVER['CONTENT_TYPE'] ?? null,
            'content_length' => $_SERVER['CONTENT_LENGTH'] ?? null,
            'remote_addr' => $_SERVER['REMOTE_ADDR'] ?? null,
            'https' => $_SERVER['HTTPS'] ?? null,
            'raw_body' => $request->body,
            'session_active' => session_status() === PHP_SESSION_ACTIVE,
            'upload_contents' => $this->uploadContents(),
        ];
    }

    private function uploadContents(): array
    {
        $contents = [];
        array_walk_recursive($_FILES, static function ($value, $key) use (&$contents): void {
            if ($key === 'tmp_name' && is_string($value) && $value !== '' && is_file($value)) {
                $contents[] = file_get_contents($value);
            }
        });

        return $contents;
    }

    private function printJson(array $data, int $status = 200): Response
    {
        $body = json_encode($data, JSON_UNESCAPED_SLASHES | JSON_THROW_ON_ERROR);
        echo $body;

        return new Response($status, ['Content-Type' => 'application/json'], $body, true);
    }

    private function session(): Response
    {
        session_start();
        if (isset($_GET['set'])) {
            $_SESSION['value'] = $_GET['set'];
        }

        return $this->printJson(['id' => session_id(), 'value' => $_SESSION['value'] ?? null]);
    }

    /** Streams like PivotPHP: ob_end_flush() on start and end, ob_flush() after each chunk. */
    private function stream(): Response
    {
        if (ob_get_level() > 0) {
            ob_end_flush();
        }
        foreach (['one', 'two', 'three'] as $event) {
            echo "data: $event\n\n";
            if (ob_get_level() > 0) {
                ob_flush();
            }
            flush();
        }
        if (ob_get_level() > 0) {
            ob_end_flush();
        }

        return new Response(200, ['Content-Type' => 'text/event-stream']);
    }

    private function remember(): Response
    {
        self::$cache[] = $_GET['v'] ?? '';

        return $this->printJson(['cache' => self::$cache]);
    }

    private function printBeforeBody(): Response
    {
        echo 'printed ';
        print 'and ';

        return new Response(200, ['Content-Type' => 'text/plain', 'Content-Length' => '4'], 'body');
    }

    private function headerAndCookie(): Response
    {
        header('X-Native: ignored by the CLI');
        setcookie('native', 'cookie');
        http_response_code(418);

        return $this->printJson(['headers_sent' => headers_sent()]);
    }

    private function warning(): Response
    {
        $missing = [];
        $value = @$missing['nope'];
        trigger_error('a warning from the fake app', E_USER_WARNING);

        return new Response(200, [], 'warned ' . var_export($value, true));
    }
}
