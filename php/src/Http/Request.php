<?php

declare(strict_types=1);

namespace PivotPHP\Runtime\RoadRunner\Http;

use PivotPHP\Runtime\RoadRunner\Exception\InvalidRequestException;

/**
 * An HTTP request as RoadRunner's http plugin describes it (wire-protocol.md §3.2–3.4).
 *
 * Immutable and cheap to build. Contexts in RoadRunner's usual shape (plain ASCII strings,
 * no form, no uploads, no attributes) are read with one regular expression instead of
 * json_decode() (plus a json_decode of the headers and cookies objects when not empty);
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

    /** See plainPrototype(). */
    private static ?self $plainPrototype = null;

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

    /** @param array<int, string> $match the groups of PLAIN_CONTEXT */
    private static function fromPlainContext(array $match, string $body): self
    {
        [, $remoteAddr, $protocol, $method, $uri, $headers, $cookies, $rawQuery] = $match;
        if (str_contains($match[0], '\\')) {
            // Only HTML escapes can be there; those in headers/cookies are left to json_decode.
            [$remoteAddr, $protocol, $method, $uri, $rawQuery] = str_replace(
                array_keys(self::HTML_ESCAPES),
                self::HTML_ESCAPES,
                [$remoteAddr, $protocol, $method, $uri, $rawQuery],
            );
        }
        $query = [];
        if ($rawQuery !== '') {
            parse_str($rawQuery, $query);
        }

        // A clone of a request that already holds what PLAIN_CONTEXT fixes: cheaper than the
        // 13-argument constructor. Headers and cookies are valid JSON (PLAIN_CONTEXT).
        $request = clone (self::$plainPrototype ??= self::plainPrototype());
        $request->remoteAddr = $remoteAddr;
        $request->protocol = $protocol;
        $request->method = $method;
        $request->uri = $uri;
        $request->headers = $headers === '{}' ? [] : self::normalizeHeaders(json_decode($headers, true));
        $request->cookies = $cookies === '{}' ? [] : json_decode($cookies, true);
        $request->rawQuery = $rawQuery;
        $request->query = $query;
        $request->body = $body;

        return $request;
    }

    /** A Request with only parsed/parsedBody/uploads/attributes set, as PLAIN_CONTEXT fixes them. */
    private static function plainPrototype(): self
    {
        $prototype = (new \ReflectionClass(self::class))->newInstanceWithoutConstructor();
        $prototype->parsed = false;
        $prototype->parsedBody = null;
        $prototype->uploads = null;
        $prototype->attributes = [];

        return $prototype;
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

    /**
     * The request's id: the `X-Request-Id` pivot sets on every request (the client's own when
     * it is sane, else a new one), or null under a server that sets none.
     */
    public function requestId(): ?string
    {
        $values = $this->headers['X-Request-Id'] ?? $this->headerValues('X-Request-Id');
        $id = $values[0] ?? null;

        return is_string($id) && $id !== '' ? $id : null;
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
