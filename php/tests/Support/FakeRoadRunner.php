<?php

declare(strict_types=1);

namespace PivotPHP\Runtime\RoadRunner\Tests\Support;

use PHPUnit\Framework\Assert;
use PivotPHP\Runtime\RoadRunner\Goridge\Frame;
use PivotPHP\Runtime\RoadRunner\Relay\RelayInterface;

/**
 * The RoadRunner end of a relay: sends frames exactly as RoadRunner builds them and reads
 * the worker's answers, failing fast (instead of hanging) when none arrives.
 */
final class FakeRoadRunner
{
    public function __construct(private readonly RelayInterface $relay)
    {
    }

    public function sendFrame(Frame $frame): void
    {
        $this->relay->send($frame);
    }

    public function sendRequest(string $context, string $body = '', int $codec = Frame::CODEC_JSON): void
    {
        $this->relay->send(new Frame($context . $body, [strlen($context)], $codec));
    }

    /**
     * A request context as RoadRunner's http plugin (and pivot) writes it, for a request to
     * http://127.0.0.1:8080$target. Cookies without a Cookie header get one, as a real request
     * carries both.
     *
     * @param array<string, list<string>> $headers
     * @param array<string, string>       $cookies
     */
    public static function requestContext(
        string $method,
        string $target,
        array $headers = [],
        array $cookies = [],
        bool $parsed = false,
        ?array $uploads = null,
        string $remoteAddr = '127.0.0.1',
    ): string {
        if ($cookies !== [] && !isset($headers['Cookie'])) {
            $headers['Cookie'] = [implode('; ', array_map(static fn ($k, $v) => "$k=$v", array_keys($cookies), $cookies))];
        }

        return json_encode([
            'remoteAddr' => $remoteAddr,
            'protocol' => 'HTTP/1.1',
            'method' => $method,
            'uri' => 'http://127.0.0.1:8080' . $target,
            'headers' => $headers === [] ? new \stdClass() : $headers,
            'cookies' => $cookies === [] ? new \stdClass() : $cookies,
            'rawQuery' => (string) parse_url($target, PHP_URL_QUERY),
            'parsed' => $parsed,
            'uploads' => $uploads,
            'attributes' => new \stdClass(),
        ], JSON_UNESCAPED_SLASHES | JSON_THROW_ON_ERROR);
    }

    public function sendControl(string $json): void
    {
        $this->relay->send(new Frame($json, [], Frame::CONTROL | Frame::CODEC_JSON));
    }

    public function sendPidRequest(int $pid = 4242): void
    {
        $this->sendControl('{"pid":' . $pid . '}');
    }

    public function sendStopCommand(): void
    {
        $this->sendControl('{"stop":true}');
    }

    public function sendStreamFlag(int $streamFlag): void
    {
        $this->relay->send(new Frame('', [], 0, $streamFlag));
    }

    public function receive(float $timeout = 5.0): Frame
    {
        if (!$this->relay->hasPendingInput($timeout)) {
            Assert::fail(sprintf('The worker sent no frame within %.1f s', $timeout));
        }

        return $this->relay->receive();
    }

    public function assertNothingPending(float $wait = 0.1): void
    {
        Assert::assertFalse($this->relay->hasPendingInput($wait), 'The worker sent an unexpected frame');
    }

    /** Sends a request and returns [context, body, frame] of the worker's answer. */
    public function exchange(string $context, string $body = ''): array
    {
        $this->sendRequest($context, $body);
        $frame = $this->receive();

        return [...self::split($frame), $frame];
    }

    /** @return array{0: string, 1: string} context and body of a worker frame */
    public static function split(Frame $frame): array
    {
        Assert::assertCount(1, $frame->options, 'A worker response carries exactly one option');
        $length = $frame->options[0];

        return [substr($frame->payload, 0, $length), (string) substr($frame->payload, $length)];
    }
}
