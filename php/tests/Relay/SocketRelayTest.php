<?php

declare(strict_types=1);

namespace PivotPHP\Runtime\RoadRunner\Tests\Relay;

use PHPUnit\Framework\TestCase;
use PivotPHP\Runtime\RoadRunner\Exception\RelayException;
use PivotPHP\Runtime\RoadRunner\Goridge\Frame;
use PivotPHP\Runtime\RoadRunner\Goridge\FrameCodec;
use PivotPHP\Runtime\RoadRunner\Payload;
use PivotPHP\Runtime\RoadRunner\Relay\SocketRelay;
use PivotPHP\Runtime\RoadRunner\Relay\StreamRelay;

final class SocketRelayTest extends TestCase
{
    /** @var list<resource> */
    private array $servers = [];
    private ?string $directory = null;

    protected function tearDown(): void
    {
        foreach ($this->servers as $server) {
            fclose($server);
        }
        if ($this->directory !== null) {
            array_map('unlink', glob($this->directory . '/*') ?: []);
            rmdir($this->directory);
        }
    }

    public function testTcpRelayConnectsLazilyAndExchangesFrames(): void
    {
        $server = $this->listen('tcp://127.0.0.1:0');
        $address = 'tcp://' . stream_socket_get_name($server, false);

        $relay = new SocketRelay($address);
        self::assertFalse($relay->isConnected(), 'nothing happens before the first use');

        $this->assertExchange($relay, $server);
    }

    public function testUnixRelayExchangesFrames(): void
    {
        $this->directory = sys_get_temp_dir() . '/rr-relay-' . bin2hex(random_bytes(4));
        mkdir($this->directory);
        $server = $this->listen('unix://' . $this->directory . '/rr.sock');

        $this->assertExchange(new SocketRelay('unix://' . $this->directory . '/rr.sock'), $server);
    }

    public function testRefusedConnectionNamesTheAddress(): void
    {
        $server = $this->listen('tcp://127.0.0.1:0');
        $address = 'tcp://' . stream_socket_get_name($server, false);
        fclose(array_pop($this->servers));

        $relay = new SocketRelay($address, 2.0);

        $this->expectException(RelayException::class);
        $this->expectExceptionMessage("Cannot connect to RoadRunner at $address");
        $relay->receive();
    }

    /** @return array<string, array{0: string, 1: string}> */
    public static function invalidAddresses(): array
    {
        return [
            'no port' => ['tcp://127.0.0.1', 'must be tcp://host:port'],
            'port out of range' => ['tcp://127.0.0.1:70000', 'must be tcp://host:port'],
            'no host' => ['tcp://:6001', 'must be tcp://host:port'],
            'no path' => ['unix://', 'has no socket path'],
            'other scheme' => ['udp://127.0.0.1:6001', 'is not a socket address'],
        ];
    }

    /** @dataProvider invalidAddresses */
    public function testInvalidAddressesAreRefusedUpFront(string $address, string $message): void
    {
        $this->expectException(RelayException::class);
        $this->expectExceptionMessage($message);
        new SocketRelay($address);
    }

    /** @param resource $server */
    private function assertExchange(SocketRelay $relay, $server): void
    {
        $relay->send(new Frame('{"pid":77}', [], Frame::CONTROL));
        self::assertTrue($relay->isConnected());

        $connection = stream_socket_accept($server, 2.0);
        self::assertIsResource($connection);
        $roadRunner = new StreamRelay($connection, $connection);

        self::assertSame(
            FrameCodec::encode(new Frame('{"pid":77}', [], Frame::CONTROL)),
            FrameCodec::encode($roadRunner->receive()),
        );

        self::assertFalse($relay->hasPendingInput(0.0));
        $roadRunner->send(new Frame('{"a":1}hello', [7], Frame::CODEC_JSON));
        self::assertTrue($relay->hasPendingInput(1.0));
        $frame = $relay->receive();
        self::assertSame('{"a":1}hello', $frame->payload);
        self::assertSame([7], $frame->options);

        $roadRunner->send(new Frame('{"a":1}hello', [7], Frame::CODEC_JSON));
        $payload = $relay->receivePayload();
        self::assertInstanceOf(Payload::class, $payload);
        self::assertSame(['{"a":1}', 'hello'], [$payload->context, $payload->body]);

        $relay->sendPayload('{"status":200,"headers":{}}', 'OK', Frame::STREAM);
        self::assertSame(
            FrameCodec::encode(new Frame('{"status":200,"headers":{}}OK', [27], 0, Frame::STREAM)),
            FrameCodec::encode($roadRunner->receive()),
        );

        $relay->close();
        self::assertFalse($relay->isConnected());
        self::assertSame('', fread($connection, 1), 'the peer sees the connection closed');
        fclose($connection);
    }

    /** @return resource */
    private function listen(string $address)
    {
        $server = stream_socket_server($address, $errorCode, $errorMessage);
        self::assertIsResource($server, "cannot listen on $address: $errorMessage");
        $this->servers[] = $server;

        return $server;
    }
}
