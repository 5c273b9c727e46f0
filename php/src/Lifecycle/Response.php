<?php

declare(strict_types=1);

namespace PivotPHP\Runtime\RoadRunner\Lifecycle;

/**
 * What goes back to RoadRunner for one request: status, headers and body.
 *
 * `$bodyInOutput` says that the application already wrote its body to PHP's output (PivotPHP's
 * `Response::json()` echoes it); the runtime then takes the captured output as the body instead
 * of adding the body a second time ({@see withCapturedOutput()}).
 */
final class Response
{
    /** @var array<string, list<string>> */
    public readonly array $headers;

    /** See withNormalized(). */
    private static ?self $prototype = null;

    /**
     * @param array<string, string|int|float|\Stringable|list<string|int|float|\Stringable>> $headers
     */
    public function __construct(
        public readonly int $status = 200,
        array $headers = [],
        public readonly string $body = '',
        public readonly bool $bodyInOutput = false,
    ) {
        $normalized = [];
        foreach ($headers as $name => $values) {
            $name = (string) $name;
            if ($name === '') {
                continue;
            }
            foreach (is_array($values) ? $values : [$values] as $value) {
                $normalized[$name][] = (string) $value;
            }
        }
        $this->headers = $normalized;
    }

    /**
     * The 500 the runtime answers when the application throws. The body names the exception only
     * in debug mode; the details go to STDERR either way.
     */
    public static function serverError(\Throwable $error, bool $debug): self
    {
        $body = ['error' => 'Internal Server Error'];
        if ($debug) {
            $body['exception'] = $error::class;
            $body['message'] = $error->getMessage();
            $body['file'] = $error->getFile() . ':' . $error->getLine();
        }

        return new self(
            500,
            ['Content-Type' => 'application/json'],
            (string) json_encode($body, JSON_UNESCAPED_SLASHES | JSON_INVALID_UTF8_SUBSTITUTE),
        );
    }

    /**
     * The response as a PHP-FPM client would see it: what the application printed comes first,
     * then the body (unless the application printed the body itself; when it said so but nothing
     * was printed — PivotPHP from 2.1 no longer echoes in `json()` — the body is kept). A
     * Content-Length header is corrected when printed output changed the body.
     */
    public function withCapturedOutput(string $output): self
    {
        if ($this->bodyInOutput && $output !== '') {
            $body = $output;
        } elseif ($output === '') {
            return $this->bodyInOutput ? self::withNormalized($this->status, $this->headers, $this->body, false) : $this;
        } else {
            $body = $output . $this->body;
        }

        $headers = $this->headers;
        foreach (array_keys($headers) as $name) {
            if (strcasecmp($name, 'Content-Length') === 0) {
                $headers[$name] = [(string) strlen($body)];
            }
        }

        return self::withNormalized($this->status, $headers, $body, false);
    }

    public function withAddedHeader(string $name, string $value): self
    {
        $headers = $this->headers;
        foreach (array_keys($headers) as $existing) {
            if (strcasecmp($existing, $name) === 0) {
                $name = $existing;
                break;
            }
        }
        $headers[$name][] = $value;

        return self::withNormalized($this->status, $headers, $this->body, $this->bodyInOutput);
    }

    /**
     * A Response from headers already in the normalized shape (this class's own): a clone of
     * an uninitialised prototype, without the constructor's pass over every header.
     *
     * @param array<string, list<string>> $headers
     */
    private static function withNormalized(int $status, array $headers, string $body, bool $bodyInOutput): self
    {
        $response = clone (self::$prototype ??= (new \ReflectionClass(self::class))->newInstanceWithoutConstructor());
        $response->status = $status;
        $response->headers = $headers;
        $response->body = $body;
        $response->bodyInOutput = $bodyInOutput;

        return $response;
    }

    /** A header's values joined with ", ", the name matched case-insensitively; null when absent. */
    public function header(string $name): ?string
    {
        foreach ($this->headers as $header => $values) {
            if (strcasecmp($header, $name) === 0) {
                return implode(', ', $values);
            }
        }

        return null;
    }
}
