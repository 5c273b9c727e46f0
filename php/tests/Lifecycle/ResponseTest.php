<?php

declare(strict_types=1);

namespace PivotPHP\Runtime\RoadRunner\Tests\Lifecycle;

use PHPUnit\Framework\TestCase;
use PivotPHP\Runtime\RoadRunner\Lifecycle\Response;

final class ResponseTest extends TestCase
{
    public function testHeadersAreNormalizedToLists(): void
    {
        $response = new Response(201, ['X-One' => 'a', 'X-Many' => ['b', 3], 'X-Int' => 7, '' => 'dropped']);

        self::assertSame(['X-One' => ['a'], 'X-Many' => ['b', '3'], 'X-Int' => ['7']], $response->headers);
        self::assertSame('b, 3', $response->header('x-many'));
        self::assertNull($response->header('X-Missing'));
    }

    public function testPrintedOutputComesBeforeTheBody(): void
    {
        $response = (new Response(200, ['Content-Length' => '4'], 'body'))->withCapturedOutput('printed ');

        self::assertSame('printed body', $response->body);
        self::assertSame('12', $response->header('Content-Length'), 'a stale Content-Length would truncate the body');
    }

    public function testBodyAlreadyPrintedIsNotRepeated(): void
    {
        $response = (new Response(200, [], '{"a":1}', true))->withCapturedOutput('debug {"a":1}');

        self::assertSame('debug {"a":1}', $response->body);
        self::assertFalse($response->bodyInOutput);
    }

    public function testNoOutputKeepsTheResponse(): void
    {
        $response = new Response(204);

        self::assertSame($response, $response->withCapturedOutput(''));
    }

    public function testStreamedBodyExistsOnlyInTheOutput(): void
    {
        $response = (new Response(200, ['Content-Type' => 'text/event-stream']))->withCapturedOutput("data: 1\n\n");

        self::assertSame("data: 1\n\n", $response->body);
    }

    public function testAddedHeaderKeepsExistingSpelling(): void
    {
        $response = (new Response(200, ['set-cookie' => 'a=1']))->withAddedHeader('Set-Cookie', 'b=2');

        self::assertSame(['set-cookie' => ['a=1', 'b=2']], $response->headers);
    }

    public function testServerErrorHidesDetailsUnlessDebug(): void
    {
        $error = new \RuntimeException('database password is hunter2');

        $production = Response::serverError($error, false);
        self::assertSame(500, $production->status);
        self::assertSame('{"error":"Internal Server Error"}', $production->body);
        self::assertSame('application/json', $production->header('Content-Type'));

        $debug = json_decode(Response::serverError($error, true)->body, true);
        self::assertSame('RuntimeException', $debug['exception']);
        self::assertSame('database password is hunter2', $debug['message']);
    }
}
