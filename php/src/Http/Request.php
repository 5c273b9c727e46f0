<?php

declare(strict_types=1);

namespace PivotPHP\Runtime\RoadRunner\Http;

use PivotPHP\Runtime\RoadRunner\Exception\InvalidRequestException;

/**
 * An HTTP request as RoadRunner's http plugin describes it (wire-protocol.md §3.2–3.4).
 *
 * Immutable and cheap to build: one json_decode of the context, plus one of the body for
 * parsed forms.
 */
final class Request
{
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
        $data = self::decodeJson($context, 'request context');
        if (!is_array($data)) {
            throw new InvalidRequestException('The request context must be a JSON object');
        }

        $headers = [];
        foreach (is_array($data['headers'] ?? null) ? $data['headers'] : [] as $name => $values) {
            // Numeric names became integer keys in json_decode(): not valid header names.
            if (is_string($name) && $name !== '') {
                $headers[$name] = is_array($values) ? $values : [(string) $values];
            }
        }

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
