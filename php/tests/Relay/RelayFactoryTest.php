<?php

declare(strict_types=1);

namespace PivotPHP\Runtime\RoadRunner\Tests\Relay;

use PHPUnit\Framework\TestCase;
use PivotPHP\Runtime\RoadRunner\Exception\RelayException;
use PivotPHP\Runtime\RoadRunner\Relay\RelayFactory;
use PivotPHP\Runtime\RoadRunner\Relay\SocketRelay;
use PivotPHP\Runtime\RoadRunner\Relay\StreamRelay;

final class RelayFactoryTest extends TestCase
{
    private string|false $previous;

    protected function setUp(): void
    {
        $this->previous = getenv('RR_RELAY');
    }

    protected function tearDown(): void
    {
        putenv($this->previous === false ? 'RR_RELAY' : 'RR_RELAY=' . $this->previous);
    }

    public function testPipesMeansStdio(): void
    {
        self::assertInstanceOf(StreamRelay::class, RelayFactory::create('pipes'));
        self::assertInstanceOf(StreamRelay::class, RelayFactory::create(' pipes '));
    }

    public function testTcpAddress(): void
    {
        $relay = RelayFactory::create('tcp://127.0.0.1:6001');

        self::assertInstanceOf(SocketRelay::class, $relay);
        self::assertSame('tcp://127.0.0.1:6001', $relay->address);
        self::assertFalse($relay->isConnected());
    }

    public function testUnixAddress(): void
    {
        $relay = RelayFactory::create('unix:///tmp/rr.sock');

        self::assertInstanceOf(SocketRelay::class, $relay);
        self::assertSame('unix:///tmp/rr.sock', $relay->address);
    }

    public function testUnsetOrEmptyEnvironmentMeansPipes(): void
    {
        putenv('RR_RELAY');
        self::assertInstanceOf(StreamRelay::class, RelayFactory::fromEnvironment());

        putenv('RR_RELAY=');
        self::assertInstanceOf(StreamRelay::class, RelayFactory::fromEnvironment());
    }

    public function testEnvironmentSocketAddress(): void
    {
        putenv('RR_RELAY=tcp://localhost:7000');
        $relay = RelayFactory::fromEnvironment();

        self::assertInstanceOf(SocketRelay::class, $relay);
        self::assertSame('tcp://localhost:7000', $relay->address);
    }

    /** @return array<string, array{0: string}> */
    public static function junk(): array
    {
        return [
            'word' => ['sockets'],
            'http url' => ['http://127.0.0.1:6001'],
            'bare host:port' => ['127.0.0.1:6001'],
        ];
    }

    /** @dataProvider junk */
    public function testJunkIsRefusedWithTheAcceptedForms(string $value): void
    {
        putenv('RR_RELAY=' . $value);

        $this->expectException(RelayException::class);
        $this->expectExceptionMessage(sprintf(
            'Unsupported RR_RELAY value "%s": expected "pipes", "tcp://host:port" or "unix:///path/to.sock"',
            $value,
        ));
        RelayFactory::fromEnvironment();
    }

    public function testMalformedSocketAddressIsRefused(): void
    {
        $this->expectException(RelayException::class);
        $this->expectExceptionMessage('Relay address "tcp://127.0.0.1" must be tcp://host:port');
        RelayFactory::create('tcp://127.0.0.1');
    }
}
