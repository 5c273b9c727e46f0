<?php

declare(strict_types=1);

namespace PivotPHP\Runtime\RoadRunner\PivotPHP;

use PivotPHP\Runtime\RoadRunner\Http\Request;
use PivotPHP\Runtime\RoadRunner\Http\Psr7Worker;
use Psr\Http\Message\ServerRequestFactoryInterface;
use Psr\Http\Message\ServerRequestInterface;
use Psr\Http\Message\StreamFactoryInterface;
use Psr\Http\Message\UploadedFileFactoryInterface;
use Psr\Http\Message\UploadedFileInterface;

/**
 * The PSR-7 `ServerRequest` a PivotPHP 4.x/5.x application gets for a RoadRunner request: what
 * pivotphp/http's `ServerRequestFactory::fromGlobals()` builds under PHP-FPM, from the request
 * instead of the (empty, in the CLI) globals and `php://input`:
 *
 * - server params: `$_SERVER` as the runtime filled it for this request (REQUEST_URI, HTTP_*,
 *   CONTENT_*, REMOTE_ADDR, HTTPS, ...), so `getServerParams()` matches PHP-FPM;
 * - method, URI, protocol version, every header, cookies, query params;
 * - body: what `php://input` would hold ({@see RequestFactory::rawBody()}: the raw bytes, a
 *   urlencoded form re-encoded, nothing for multipart); the app's body parser reads it;
 * - parsed body: the form fields for urlencoded and multipart requests (PHP's `$_POST`), else
 *   null, left to the app's body parser (JSON);
 * - uploaded files: one `UploadedFileInterface` per file, nested as in the form;
 * - attributes: RoadRunner's request attributes, and `request_id` (pivot's X-Request-Id).
 */
final class ServerRequestBuilder
{
    public function __construct(
        private readonly ServerRequestFactoryInterface $requests,
        private readonly StreamFactoryInterface $streams,
        private readonly UploadedFileFactoryInterface $files,
    ) {
    }

    /**
     * The PSR-17 factories of a PivotPHP 4.x/5.x install: pivotphp/http's `Psr17Factory`, else
     * nyholm/psr7's (pivotphp/http is built on it); null when neither is installed.
     */
    public static function fromInstalledFactories(): ?self
    {
        foreach (['PivotPHP\\Http\\Factory\\Psr17Factory', 'Nyholm\\Psr7\\Factory\\Psr17Factory'] as $class) {
            if (!class_exists($class)) {
                continue;
            }
            try {
                $factory = new $class();
            } catch (\Throwable) {
                continue; // a factory that needs arguments: try the next one
            }
            if ($factory instanceof ServerRequestFactoryInterface && $factory instanceof StreamFactoryInterface
                && $factory instanceof UploadedFileFactoryInterface) {
                return new self($factory, $factory, $factory);
            }
        }

        return null;
    }

    /** @param array<string, mixed> $serverParams the request's `$_SERVER` */
    public function build(Request $request, array $serverParams): ServerRequestInterface
    {
        $serverRequest = $this->requests
            ->createServerRequest($request->method, $request->uri, $serverParams)
            ->withProtocolVersion(self::protocolVersion($request->protocol))
            ->withCookieParams($request->cookies)
            ->withQueryParams($request->query);

        foreach ($request->headers as $name => $values) {
            $serverRequest = $serverRequest->withHeader((string) $name, $values);
        }
        $raw = RequestFactory::rawBody($request);
        if ($raw !== '') {
            $serverRequest = $serverRequest->withBody($this->streams->createStream($raw));
        }
        if ($request->parsed && self::isForm($request)) {
            $serverRequest = $serverRequest->withParsedBody($request->parsedBody ?? []);
        }
        if ($request->uploads !== null) {
            $serverRequest = $serverRequest->withUploadedFiles($this->uploadedFiles($request->uploads));
        }
        foreach ($request->attributes as $name => $value) {
            $serverRequest = $serverRequest->withAttribute((string) $name, $value);
        }
        $requestId = $request->requestId();
        if ($requestId !== null) {
            $serverRequest = $serverRequest->withAttribute(Psr7Worker::REQUEST_ID_ATTRIBUTE, $requestId);
        }

        return $serverRequest;
    }

    private static function isForm(Request $request): bool
    {
        $type = strtolower((string) $request->header('Content-Type'));

        return str_contains($type, 'application/x-www-form-urlencoded') || str_contains($type, 'multipart/form-data');
    }

    private static function protocolVersion(string $protocol): string
    {
        return match ($protocol) {
            'HTTP/1.0' => '1.0',
            'HTTP/2.0', 'HTTP/2' => '2',
            'HTTP/3.0', 'HTTP/3' => '3',
            default => '1.1',
        };
    }

    /**
     * @param array<mixed> $tree RoadRunner's uploads tree
     *
     * @return array<mixed>
     */
    private function uploadedFiles(array $tree): array
    {
        $files = [];
        foreach ($tree as $key => $node) {
            if (!is_array($node)) {
                continue;
            }
            $isLeaf = isset($node['name']) && is_string($node['name']) && array_key_exists('error', $node);
            $files[$key] = $isLeaf ? $this->uploadedFile($node) : $this->uploadedFiles($node);
        }

        return $files;
    }

    /** @param array<string, mixed> $file */
    private function uploadedFile(array $file): UploadedFileInterface
    {
        $error = (int) $file['error'];
        $tmpName = $file['tmpName'] ?? null;
        $stream = $error === UPLOAD_ERR_OK && is_string($tmpName) && $tmpName !== '' && is_file($tmpName)
            ? $this->streams->createStreamFromFile($tmpName)
            : $this->streams->createStream('');

        return $this->files->createUploadedFile(
            $stream,
            isset($file['size']) ? (int) $file['size'] : null,
            $error,
            (string) $file['name'],
            is_string($file['mime'] ?? null) ? $file['mime'] : null,
        );
    }
}
