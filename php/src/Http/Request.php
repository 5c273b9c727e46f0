<?php

declare(strict_types=1);

namespace PivotPHP\Runtime\RoadRunner\Http;

use PivotPHP\Runtime\RoadRunner\Exception\InvalidRequestException;

/**
 * An HTTP request as RoadRunner's http plugin describes it (wire-protocol.md §3.2–3.4).
 *
 * Immutable and cheap to build. Contexts in RoadRunner's usual shape (plain ASCII strings,
 * no form, no uploads, no attributes) are read with one regular expression instead of
 * json_decode(), and `headers`, `cookies` and `query` are then decoded on first access;
 * anything else takes one json_decode of the context, plus one of the body for parsed forms.
 */
final class Request
{
    /**
     * A request context exactly as RoadRunner writes it (wire-protocol.md §3.2: keys in struct
     * order, no whitespace), restricted to strings of printable ASCII without escapes other
     * than goccy's `\u0026` `\u003c` `\u003e`, `parsed` false, `uploads` null and
     * `attributes` {}. Whatever matches is valid JSON whose values the groups give exactly;
     * whatever does not goes through json_decode().
     *
     * Groups: 1 remoteAddr, 2 protocol, 3 method, 4 uri, 5 headers object, 6 cookies
     * object, 7 rawQuery.
     */
    private const PLAIN_CONTEXT = '/^\\{"remoteAddr":"(' . self::STRING . ')","protocol":"(' . self::STRING
        . ')","method":"(' . self::STRING . ')","uri":"(' . self::STRING . ')","headers":(\\{(?:'
        . self::HEADER . '(?:,' . self::HEADER . ')*+)?\\}),"cookies":(\\{(?:' . self::COOKIE . '(?:,'
        . self::COOKIE . ')*+)?\\}),"rawQuery":"(' . self::STRING
        . ')","parsed":false,"uploads":null,"attributes":\\{\\}\\}$/D';

    /** The inside of a JSON string: printable ASCII but `"` and `\`, or an HTML escape. */
    private const STRING = '(?:[\\x20\\x21\\x23-\\x5b\\x5d-\\x7f]++|\\\\u00(?:26|3c|3e))*+';

    /** `"name":["value",…]` */
    private const HEADER = '"' . self::STRING . '":\\[(?:"' . self::STRING . '"(?:,"' . self::STRING . '")*+)?\\]';

    /** `"name":"value"` */
    private const COOKIE = '"' . self::STRING . '":"' . self::STRING . '"';

    /** goccy/go-json's HTML escapes, the only escapes PLAIN_CONTEXT lets through. */
    private const HTML_ESCAPES = ['\u0026' => '&', '\u003c' => '<', '\u003e' => '>'];

    /** A Request with the fields that PLAIN_CONTEXT fixes; fromContext() clones it. */
    private static ?self $plainPrototype = null;

    /** JSON of `headers` / `cookies` not decoded yet (lazy requests only). */
    private ?string $pendingHeaders = null;
    private ?string $pendingCookies = null;
    private bool $pendingQuery = false;

    /**
     * @param array<string, list<string>> $headers   Go-canonical names (`X-Multi`); no `Host` (see host())
     * @param array<string, string>       $cookies   already URL-decoded by RoadRunner
     * @param array<string, mixed>        $query     parse_str() of $rawQuery
     * @param array<mixed>|null           $parsedBody the form data tree when $parsed, else null
     * @param array<mixed>|null           $uploads   file tree for multipart requests, else null
     * @param array<string, mixed>        $attributes set by Go middleware, usually empty
     */
    public function __construct(
        public readonly string $remoteAddr,
        public readonly string $protocol,
        public readonly string $method,
        public readonly string $uri,
        public readonly array $headers = [],
        public readonly array $cookies = [],
        public readonly string $rawQuery = '',
        public readonly array $query = [],
        public readonly string $body = '',
        public readonly bool $parsed = false,
        public readonly ?array $parsedBody = null,
        public readonly ?array $uploads = null,
        public readonly array $attributes = [],
    ) {
    }

    /**
     * @param string $context the request context JSON
     * @param string $body    raw body, or the JSON data tree of a parsed form
     */
    public static function fromContext(string $context, string $body = ''): self
    {
        if (preg_match(self::PLAIN_CONTEXT, $context, $match) === 1) {
            return self::fromPlainContext($match, $body);
        }

        $data = self::decodeJson($context, 'request context');
        if (!is_array($data)) {
            throw new InvalidRequestException('The request context must be a JSON object');
        }

        $headers = self::normalizeHeaders(is_array($data['headers'] ?? null) ? $data['headers'] : []);

        $rawQuery = is_string($data['rawQuery'] ?? null) ? $data['rawQuery'] : '';
        $query = [];
        if ($rawQuery !== '') {
            parse_str($rawQuery, $query);
        }

        $parsed = ($data['parsed'] ?? false) === true;
        $parsedBody = null;
        if ($parsed) {
            $parsedBody = $body === '' ? [] : self::decodeJson($body, 'parsed form body');
            if (!is_array($parsedBody)) {
                throw new InvalidRequestException('A parsed form body must be a JSON object');
            }
        }

        return new self(
            is_string($data['remoteAddr'] ?? null) ? $data['remoteAddr'] : '',
            is_string($data['protocol'] ?? null) ? $data['protocol'] : 'HTTP/1.1',
            is_string($data['method'] ?? null) ? $data['method'] : 'GET',
            is_string($data['uri'] ?? null) ? $data['uri'] : '',
            $headers,
            is_array($data['cookies'] ?? null) ? $data['cookies'] : [],
            $rawQuery,
            $query,
            $body,
            $parsed,
            $parsedBody,
            is_array($data['uploads'] ?? null) ? $data['uploads'] : null,
            is_array($data['attributes'] ?? null) ? $data['attributes'] : [],
        );
    }

    /**
     * The lazily decoded properties (`headers`, `cookies`, `query`) of a request read by
     * PLAIN_CONTEXT: PHP calls this on the first access because they were unset.
     */
    public function __get(string $name): mixed
    {
        switch ($name) {
            case 'headers':
                if ($this->pendingHeaders !== null) {
                    // Valid JSON (PLAIN_CONTEXT): an object of string lists; names as in fromContext().
                    $headers = self::normalizeHeaders(json_decode($this->pendingHeaders, true));
                    $this->pendingHeaders = null;

                    return $this->headers = $headers;
                }
                break;
            case 'cookies':
                if ($this->pendingCookies !== null) {
                    $cookies = json_decode($this->pendingCookies, true);
                    $this->pendingCookies = null;

                    return $this->cookies = $cookies;
                }
                break;
            case 'query':
                if ($this->pendingQuery) {
                    parse_str($this->rawQuery, $query);
                    $this->pendingQuery = false;

                    return $this->query = $query;
                }
                break;
        }

        // What PHP does without __get.
        if (property_exists($this, $name)) {
            throw new \Error(sprintf('Cannot access private property %s::$%s', self::class, $name));
        }
        trigger_error(sprintf('Undefined property: %s::$%s', self::class, $name), E_USER_WARNING);

        return null;
    }

    public function __isset(string $name): bool
    {
        return match ($name) {
            'headers' => $this->pendingHeaders !== null,
            'cookies' => $this->pendingCookies !== null,
            'query' => $this->pendingQuery,
            default => false,
        };
    }

    /** @param array<int, string> $match the groups of PLAIN_CONTEXT */
    private static function fromPlainContext(array $match, string $body): self
    {
        if (self::$plainPrototype === null) {
            $prototype = (new \ReflectionClass(self::class))->newInstanceWithoutConstructor();
            $prototype->parsed = false;
            $prototype->parsedBody = null;
            $prototype->uploads = null;
            $prototype->attributes = [];
            self::$plainPrototype = $prototype;
        }

        $request = clone self::$plainPrototype;
        $request->body = $body;

        [, $remoteAddr, $protocol, $method, $uri, $headers, $cookies, $rawQuery] = $match;
        if (str_contains($match[0], '\\')) {
            // Only HTML escapes can be there; those in headers/cookies are left to json_decode.
            [$remoteAddr, $protocol, $method, $uri, $rawQuery] = str_replace(
                array_keys(self::HTML_ESCAPES),
                self::HTML_ESCAPES,
                [$remoteAddr, $protocol, $method, $uri, $rawQuery],
            );
        }
        $request->remoteAddr = $remoteAddr;
        $request->protocol = $protocol;
        $request->method = $method;
        $request->uri = $uri;
        $request->rawQuery = $rawQuery;

        // Unset (not just uninitialized) typed properties make PHP call __get().
        if ($headers === '{}') {
            $request->headers = [];
        } else {
            unset($request->headers);
            $request->pendingHeaders = $headers;
        }
        if ($cookies === '{}') {
            $request->cookies = [];
        } else {
            unset($request->cookies);
            $request->pendingCookies = $cookies;
        }
        if ($rawQuery === '') {
            $request->query = [];
        } else {
            unset($request->query);
            $request->pendingQuery = true;
        }

        return $request;
    }

    /** Drops numeric and empty header names, and makes every value a list. */
    private static function normalizeHeaders(array $raw): array
    {
        $headers = [];
        foreach ($raw as $name => $values) {
            // Numeric names became integer keys in json_decode(): not valid header names.
            if (is_string($name) && $name !== '') {
                $headers[$name] = is_array($values) ? $values : [(string) $values];
            }
        }

        return $headers;
    }

    /** All values of a header, name matched case-insensitively. */
    public function headerValues(string $name): array
    {
        if (isset($this->headers[$name])) {
            return $this->headers[$name];
        }
        foreach ($this->headers as $header => $values) {
            if (strcasecmp($header, $name) === 0) {
                return $values;
            }
        }

        return [];
    }

    /** A header's values joined with ", " (like PSR-7 getHeaderLine), or null when absent. */
    public function header(string $name): ?string
    {
        $values = $this->headerValues($name);

        return $values === [] ? null : implode(', ', $values);
    }

    public function hasHeader(string $name): bool
    {
        return $this->headerValues($name) !== [];
    }

    public function cookie(string $name): ?string
    {
        return $this->cookies[$name] ?? null;
    }

    /**
     * The Host header value, taken from the URI because Go removes `Host` from the headers:
     * host plus `:port` when the URI names one, e.g. `127.0.0.1:8080`.
     */
    public function host(): string
    {
        $start = strpos($this->uri, '://');
        $start = $start === false ? 0 : $start + 3;
        $authority = substr($this->uri, $start, strcspn($this->uri, '/?#', $start));
        $at = strrpos($authority, '@');

        return $at === false ? $authority : substr($authority, $at + 1);
    }

    /** The path of the URI, still percent-encoded, `/` when empty. */
    public function path(): string
    {
        $start = strpos($this->uri, '://');
        if ($start !== false) {
            $start += 3;
            $start += strcspn($this->uri, '/?#', $start); // skip the authority
        } else {
            $start = 0;
        }
        if (($this->uri[$start] ?? '') !== '/') {
            return '/';
        }

        return substr($this->uri, $start, strcspn($this->uri, '?#', $start));
    }

    private static function decodeJson(string $json, string $what): mixed
    {
        try {
            return json_decode($json, true, 512, JSON_THROW_ON_ERROR);
        } catch (\JsonException $e) {
            throw new InvalidRequestException(sprintf('Invalid %s JSON: %s', $what, $e->getMessage()), 0, $e);
        }
    }
}
