<?php

declare(strict_types=1);

namespace PivotPHP\Runtime\RoadRunner\Http;

use PivotPHP\Runtime\RoadRunner\Exception\InvalidResponseException;
use PivotPHP\Runtime\RoadRunner\Lifecycle\Config;
use PivotPHP\Runtime\RoadRunner\Lifecycle\Hooks;
use PivotPHP\Runtime\RoadRunner\Lifecycle\Psr7Handler;
use PivotPHP\Runtime\RoadRunner\Lifecycle\Server;
use Psr\Http\Message\ResponseInterface;
use Psr\Http\Message\ServerRequestFactoryInterface;
use Psr\Http\Message\ServerRequestInterface;
use Psr\Http\Message\StreamFactoryInterface;
use Psr\Http\Message\StreamInterface;
use Psr\Http\Message\UploadedFileFactoryInterface;
use Psr\Http\Message\UploadedFileInterface;

/**
 * PSR-7 requests and responses over {@see HttpWorker}, with any PSR-17 factories
 * (e.g. nyholm/psr7's Psr17Factory). psr/http-message and psr/http-factory are needed only
 * when this class is used.
 */
final class Psr7Worker
{
    /** The request attribute holding pivot's request id (the X-Request-Id header it sets). */
    public const REQUEST_ID_ATTRIBUTE = 'request_id';

    /** @var array<string, mixed> the process's $_SERVER, the base of every request's server params */
    private readonly array $baseServerParams;

    public function __construct(
        private readonly HttpWorker $httpWorker,
        private readonly ServerRequestFactoryInterface $requestFactory,
        private readonly StreamFactoryInterface $streamFactory,
        private readonly UploadedFileFactoryInterface $uploadedFileFactory,
    ) {
        $this->baseServerParams = $_SERVER;
    }

    /** Without an HttpWorker: the worker of this process ({@see HttpWorker::create()}). */
    public static function create(
        ServerRequestFactoryInterface $requestFactory,
        StreamFactoryInterface $streamFactory,
        UploadedFileFactoryInterface $uploadedFileFactory,
        ?HttpWorker $httpWorker = null,
    ): self {
        return new self($httpWorker ?? HttpWorker::create(), $requestFactory, $streamFactory, $uploadedFileFactory);
    }

    public function httpWorker(): HttpWorker
    {
        return $this->httpWorker;
    }

    /**
     * Serves a PSR-15 handler (or a callable(ServerRequestInterface): ResponseInterface) until
     * RoadRunner stops the worker, with the runtime's lifecycle: superglobals filled per request,
     * output captured, sessions and state reset after each request, onRequestStart/onRequestEnd/
     * onReset listeners, and the WorkerManager's recycling (max_requests, memory_limit, ttl).
     *
     * @param array<string, mixed>|Config $config see {@see Config::fromArray()}
     */
    public function serve(callable|object $app, array|Config $config = [], ?Hooks $hooks = null): void
    {
        $settings = $config instanceof Config ? $config : Config::fromArray($config);
        (new Server($this->httpWorker, $settings, $hooks))->serve(new Psr7Handler($this, $app));
    }

    /** Blocks until the next request; null when RoadRunner stops the worker. */
    public function waitRequest(): ?ServerRequestInterface
    {
        $request = $this->httpWorker->waitRequest();

        return $request === null ? null : $this->toServerRequest($request);
    }

    public function toServerRequest(Request $request): ServerRequestInterface
    {
        $serverRequest = $this->requestFactory
            ->createServerRequest($request->method, $request->uri, $this->serverParams($request))
            ->withProtocolVersion(self::protocolVersion($request->protocol))
            ->withCookieParams($request->cookies)
            ->withQueryParams($request->query);

        foreach ($request->headers as $name => $values) {
            $serverRequest = $serverRequest->withHeader($name, $values);
        }
        if ($request->uploads !== null) {
            $serverRequest = $serverRequest->withUploadedFiles($this->uploadedFiles($request->uploads));
        }
        if ($request->parsed) {
            $serverRequest = $serverRequest->withParsedBody($request->parsedBody);
        }
        if ($request->body !== '') {
            // For parsed forms the stream holds the JSON data tree, as RoadRunner sent it.
            $serverRequest = $serverRequest->withBody($this->streamFactory->createStream($request->body));
        }
        foreach ($request->attributes as $name => $value) {
            $serverRequest = $serverRequest->withAttribute((string) $name, $value);
        }
        $requestId = $request->requestId();
        if ($requestId !== null) {
            $serverRequest = $serverRequest->withAttribute(self::REQUEST_ID_ATTRIBUTE, $requestId);
        }

        return $serverRequest;
    }

    /**
     * Sends the response. With $chunkSize > 0 the body is streamed in chunks of that size
     * (and the stream stops early if the client goes away).
     */
    public function respond(ResponseInterface $response, int $chunkSize = 0): void
    {
        $status = $response->getStatusCode();
        $headers = $response->getHeaders();
        $body = $response->getBody();

        if ($chunkSize > 0) {
            if ($status < 200) {
                throw new InvalidResponseException(sprintf('A %d response cannot be streamed', $status));
            }
            if ($body->isSeekable()) {
                $body->rewind();
            }
            $this->httpWorker->respondStream($status, self::chunks($body, $chunkSize), $headers);

            return;
        }

        $content = (string) $body;
        if ($status < 200 && $content !== '') {
            throw new InvalidResponseException(sprintf('A %d response cannot carry a body', $status));
        }
        $this->httpWorker->respond($status, $content, $headers);
    }

    /** Fails the current request: RoadRunner answers 500 and keeps the worker. */
    public function error(string $message): void
    {
        $this->httpWorker->error($message);
    }

    /** @return array<string, mixed> */
    private function serverParams(Request $request): array
    {
        $server = $this->baseServerParams;

        // PHP SAPIs put the path and query in REQUEST_URI (frameworks route on it).
        $path = $request->path();
        $server['REQUEST_URI'] = $request->rawQuery === '' ? $path : $path . '?' . $request->rawQuery;
        $server['QUERY_STRING'] = $request->rawQuery;
        $server['REQUEST_METHOD'] = $request->method;
        $server['SERVER_PROTOCOL'] = $request->protocol;
        $server['REQUEST_TIME'] = time();
        $server['REQUEST_TIME_FLOAT'] = microtime(true);
        $server['REMOTE_ADDR'] = is_string($request->attributes['ipAddress'] ?? null)
            ? $request->attributes['ipAddress']
            : $request->remoteAddr;
        $server['HTTP_HOST'] = $request->host();
        if (str_starts_with($request->uri, 'https://')) {
            $server['HTTPS'] = 'on';
            $server['REQUEST_SCHEME'] = 'https';
        } else {
            unset($server['HTTPS']);
            $server['REQUEST_SCHEME'] = 'http';
        }
        $server['HTTP_USER_AGENT'] = '';
        $requestId = $request->requestId();
        if ($requestId !== null) {
            $server['REQUEST_ID'] = $requestId;
        } else {
            unset($server['REQUEST_ID']);
        }

        foreach ($request->headers as $name => $values) {
            $key = strtoupper(str_replace('-', '_', $name));
            if ($key !== 'CONTENT_TYPE' && $key !== 'CONTENT_LENGTH') {
                $key = 'HTTP_' . $key;
            }
            $server[$key] = implode(', ', $values);
        }

        return $server;
    }

    /** `HTTP/2.0` → `2`; unknown versions fall back to `1.1`. */
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
     * @param array<mixed> $tree
     *
     * @return array<mixed>
     */
    private function uploadedFiles(array $tree): array
    {
        $files = [];
        foreach ($tree as $key => $node) {
            if (is_array($node)) {
                $files[$key] = self::isFileLeaf($node) ? $this->uploadedFile($node) : $this->uploadedFiles($node);
            }
        }

        return $files;
    }

    /** A leaf is a FileUpload object; a field may itself be called "name", hence the type checks. */
    private static function isFileLeaf(array $node): bool
    {
        return isset($node['name']) && is_string($node['name']) && array_key_exists('error', $node);
    }

    private function uploadedFile(array $file): UploadedFileInterface
    {
        $error = (int) $file['error'];
        $stream = $error === UPLOAD_ERR_OK && is_string($file['tmpName'] ?? null) && $file['tmpName'] !== ''
            ? $this->streamFactory->createStreamFromFile($file['tmpName'])
            : $this->streamFactory->createStream('');

        return $this->uploadedFileFactory->createUploadedFile(
            $stream,
            isset($file['size']) ? (int) $file['size'] : null,
            $error,
            $file['name'],
            is_string($file['mime'] ?? null) ? $file['mime'] : null,
        );
    }

    /** @return \Generator<string> */
    private static function chunks(StreamInterface $body, int $chunkSize): \Generator
    {
        while (!$body->eof()) {
            $chunk = $body->read($chunkSize);
            if ($chunk === '') {
                break;
            }
            yield $chunk;
        }
    }
}
