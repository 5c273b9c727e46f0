<?php

declare(strict_types=1);

namespace PivotPHP\Runtime\RoadRunner\Tests\PivotPHP;

use Nyholm\Psr7\Factory\Psr17Factory;
use PHPUnit\Framework\TestCase;
use PivotPHP\Runtime\RoadRunner\Http\Request;
use PivotPHP\Runtime\RoadRunner\PivotPHP\ServerRequestBuilder;

/** The PSR-7 request of PivotPHP 4.x/5.x carries pivot's request id as the `request_id` attribute. */
final class ServerRequestBuilderTest extends TestCase
{
    public static function setUpBeforeClass(): void
    {
        $autoload = stream_resolve_include_path('Nyholm/Psr7/autoload.php');
        if ($autoload !== false) {
            require_once $autoload;
        }
    }

    protected function setUp(): void
    {
        if (!class_exists(Psr17Factory::class)) {
            self::markTestSkipped('nyholm/psr7 is not installed (Debian package php-nyholm-psr7)');
        }
    }

    public function testRequestIdAttribute(): void
    {
        $factory = new Psr17Factory();
        $builder = new ServerRequestBuilder($factory, $factory, $factory);

        $with = $builder->build(new Request('127.0.0.1', 'HTTP/1.1', 'GET', 'http://h/', headers: ['X-Request-Id' => ['r-1']]), []);
        self::assertSame('r-1', $with->getAttribute('request_id'));

        $without = $builder->build(new Request('127.0.0.1', 'HTTP/1.1', 'GET', 'http://h/'), []);
        self::assertNull($without->getAttribute('request_id'));
    }
}
