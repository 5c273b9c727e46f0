<?php

declare(strict_types=1);

namespace PivotPHP\Runtime\RoadRunner\Tests\Http;

use PHPUnit\Framework\TestCase;
use PivotPHP\Runtime\RoadRunner\Exception\InvalidResponseException;
use PivotPHP\Runtime\RoadRunner\Http\ResponseContext;

final class ResponseContextTest extends TestCase
{
    public function testNoHeadersEncodeAsAnObject(): void
    {
        self::assertSame('{"status":200,"headers":{}}', ResponseContext::encode(200));
        self::assertSame('{"status":204,"headers":{}}', ResponseContext::encode(204, []));
        self::assertSame('{"status":200,"headers":{}}', ResponseContext::encode(200, ['X-Empty' => []]), 'empty lists add nothing');
    }

    public function testValuesBecomeListsOfStrings(): void
    {
        self::assertSame(
            '{"status":201,"headers":{"Content-Type":["application/json"],"Content-Length":["13"],"X-Ratio":["1.5"]}}',
            ResponseContext::encode(201, ['Content-Type' => 'application/json', 'Content-Length' => 13, 'X-Ratio' => 1.5]),
        );
    }

    public function testRepeatedSetCookie(): void
    {
        self::assertSame(
            '{"status":200,"headers":{"Set-Cookie":["a=1; Path=/","b=2; Path=/; HttpOnly"]}}',
            ResponseContext::encode(200, ['Set-Cookie' => ['a=1; Path=/', 'b=2; Path=/; HttpOnly']]),
        );
    }

    public function testDecodesToTheShapeRoadRunnerExpects(): void
    {
        $context = ResponseContext::encode(404, ['X-List' => ['a', 'b'], 'Location' => 'https://example.test/ü?x=<1>']);

        self::assertSame(
            ['status' => 404, 'headers' => ['X-List' => ['a', 'b'], 'Location' => ['https://example.test/ü?x=<1>']]],
            json_decode($context, true),
        );
        self::assertStringContainsString('"https://example.test/ü?x=<1>"', $context, 'no needless escaping');
    }

    public function testNonListHeaderValuesAreReindexed(): void
    {
        self::assertSame(
            '{"status":200,"headers":{"X-A":["1","2"]}}',
            ResponseContext::encode(200, ['X-A' => [3 => '1', 'k' => '2']]),
        );
    }

    /** @return array<string, array{0: int}> */
    public static function invalidStatuses(): array
    {
        return ['99' => [99], '600' => [600], 'zero' => [0], 'negative' => [-200]];
    }

    /** @dataProvider invalidStatuses */
    public function testStatusOutsideTheHttpRangeIsRefused(int $status): void
    {
        $this->expectException(InvalidResponseException::class);
        $this->expectExceptionMessage("HTTP status must be within 100-599, got $status");
        ResponseContext::encode($status);
    }

    public function testBoundaryStatusesAreAccepted(): void
    {
        self::assertSame('{"status":100,"headers":{}}', ResponseContext::encode(100));
        self::assertSame('{"status":599,"headers":{}}', ResponseContext::encode(599));
    }

    public function testListOfHeadersIsRefused(): void
    {
        $this->expectException(InvalidResponseException::class);
        $this->expectExceptionMessage('must be a map of name => value(s), got a list');
        ResponseContext::encode(200, ['Content-Type: text/plain']);
    }

    public function testUnsupportedValueTypeIsRefused(): void
    {
        $this->expectException(InvalidResponseException::class);
        $this->expectExceptionMessage('Response header "X-Flag" must be a string or a list of strings, got bool');
        ResponseContext::encode(200, ['X-Flag' => true]);
    }

    public function testEmptyHeaderNameIsRefused(): void
    {
        $this->expectException(InvalidResponseException::class);
        ResponseContext::encode(200, ['' => 'x']);
    }

    public function testInvalidUtf8IsRefused(): void
    {
        $this->expectException(InvalidResponseException::class);
        $this->expectExceptionMessage('Response headers cannot be encoded: Malformed UTF-8');
        ResponseContext::encode(200, ['X-Bin' => "\xff"]);
    }

    /** The last string headers are remembered; a repeat must still encode what was asked. */
    public function testRepeatedHeadersGiveTheSameContextAndNothingStale(): void
    {
        $headers = ['Content-Type' => 'text/plain'];
        $first = ResponseContext::encode(200, $headers);
        self::assertSame('{"status":200,"headers":{"Content-Type":["text/plain"]}}', $first);
        self::assertSame($first, ResponseContext::encode(200, $headers));
        self::assertSame($first, ResponseContext::encode(200, ['Content-Type' => 'text/plain']), 'equal array');
        self::assertSame('{"status":404,"headers":{"Content-Type":["text/plain"]}}', ResponseContext::encode(404, $headers));
        self::assertSame('{"status":200,"headers":{"Content-Type":["text/html"]}}', ResponseContext::encode(200, ['Content-Type' => 'text/html']));
        self::assertSame('{"status":200,"headers":{"Content-Type":["1"]}}', ResponseContext::encode(200, ['Content-Type' => 1]));
        self::assertSame('{"status":200,"headers":{"Content-Type":["text/plain"]}}', ResponseContext::encode(200, $headers));

        // Values that are not strings may encode differently next time: never remembered.
        $value = new class () implements \Stringable {
            public string $text = 'one';

            public function __toString(): string
            {
                return $this->text;
            }
        };
        $withObject = ['X-Value' => $value];
        self::assertSame('{"status":200,"headers":{"X-Value":["one"]}}', ResponseContext::encode(200, $withObject));
        $value->text = 'two';
        self::assertSame('{"status":200,"headers":{"X-Value":["two"]}}', ResponseContext::encode(200, $withObject));
        $inList = ['X-Value' => ['a', $value]];
        self::assertSame('{"status":200,"headers":{"X-Value":["a","two"]}}', ResponseContext::encode(200, $inList));
        $value->text = 'three';
        self::assertSame('{"status":200,"headers":{"X-Value":["a","three"]}}', ResponseContext::encode(200, $inList));

        $precision = ini_get('precision');
        try {
            $withFloat = ['X-Float' => 0.1 + 0.2];
            $before = ResponseContext::encode(200, $withFloat);
            ini_set('precision', '17');
            self::assertNotSame($before, ResponseContext::encode(200, $withFloat));
        } finally {
            ini_set('precision', (string) $precision);
        }
    }
}
