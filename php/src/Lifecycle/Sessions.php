<?php

declare(strict_types=1);

namespace PivotPHP\Runtime\RoadRunner\Lifecycle;

use PivotPHP\Runtime\RoadRunner\Http\Request;

/**
 * Native PHP sessions in a worker that serves many clients: each request gets its own session
 * id (from its session cookie, or none), the session is written and closed before the
 * response leaves, `$_SESSION` is emptied, and a new or regenerated id is sent back as a
 * `Set-Cookie` header — the CLI SAPI cannot send the cookie `session_start()` asks for.
 *
 * Without this, the first `session_start()` leaves the session active and every later request
 * of every client shares one `$_SESSION`.
 */
final class Sessions
{
    private ?string $requestId = null;

    /** Before the application runs: closes a leftover session and selects the request's id. */
    public function begin(Request $request): void
    {
        if (!self::available()) {
            return;
        }
        $this->reset();

        $id = $request->cookie((string) session_name());
        $this->requestId = null;
        if ($id !== null && preg_match('/^[A-Za-z0-9,-]{1,256}$/', $id) === 1) {
            $this->requestId = $id;
            session_id($id);
        }
    }

    /**
     * After the application answered: writes and closes the session, and adds the session
     * cookie to the response when the id is new.
     */
    public function finish(Response $response): Response
    {
        if (self::status() !== PHP_SESSION_ACTIVE) {
            return $response;
        }

        $id = (string) session_id();
        if ($id !== '' && $id !== $this->requestId && ini_get('session.use_cookies')) {
            $response = $response->withAddedHeader('Set-Cookie', self::cookie((string) session_name(), $id));
        }
        session_write_close();
        $_SESSION = [];

        return $response;
    }

    /** Closes any session and forgets its id and data, so the next request starts clean. */
    public function reset(): void
    {
        $status = self::status();
        if ($status === PHP_SESSION_DISABLED) {
            return;
        }
        if ($status === PHP_SESSION_ACTIVE) {
            session_write_close();
            $status = session_status();
        }
        if (isset($_SESSION)) {
            $_SESSION = [];
        }
        if ($status === PHP_SESSION_NONE && session_id() !== '') {
            session_id('');
        }
        $this->requestId = null;
    }

    private static function available(): bool
    {
        return self::status() !== PHP_SESSION_DISABLED;
    }

    /** session_status(), or PHP_SESSION_DISABLED without the session extension. */
    private static function status(): int
    {
        static $extension = null;
        $extension ??= function_exists('session_status');

        return $extension ? session_status() : PHP_SESSION_DISABLED;
    }

    private static function cookie(string $name, string $id): string
    {
        $params = session_get_cookie_params();
        $cookie = rawurlencode($name) . '=' . $id;
        if ((int) $params['lifetime'] > 0) {
            $expires = time() + (int) $params['lifetime'];
            $cookie .= '; Expires=' . gmdate('D, d M Y H:i:s \G\M\T', $expires)
                . '; Max-Age=' . (int) $params['lifetime'];
        }
        $cookie .= '; Path=' . ($params['path'] !== '' ? $params['path'] : '/');
        if ($params['domain'] !== '') {
            $cookie .= '; Domain=' . $params['domain'];
        }
        if ($params['secure']) {
            $cookie .= '; Secure';
        }
        if ($params['httponly']) {
            $cookie .= '; HttpOnly';
        }
        if (($params['samesite'] ?? '') !== '') {
            $cookie .= '; SameSite=' . $params['samesite'];
        }

        return $cookie;
    }
}
