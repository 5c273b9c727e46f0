<?php

declare(strict_types=1);

namespace PivotPHP\Runtime\RoadRunner\Tests\Rpc;

use PHPUnit\Framework\TestCase;
use PivotPHP\Runtime\RoadRunner\Goridge\Frame;
use PivotPHP\Runtime\RoadRunner\Rpc\ConnectionException;
use PivotPHP\Runtime\RoadRunner\Rpc\RpcClient;
use PivotPHP\Runtime\RoadRunner\Rpc\ServiceException;
use PivotPHP\Runtime\RoadRunner\Rpc\TimeoutException;
use PivotPHP\Runtime\RoadRunner\Rpc\UnexpectedResponseException;
use PivotPHP\Runtime\RoadRunner\Tests\Support\FakeRpcServer;

/**
 * RpcClient against a real socket server process (tests/fixtures/fake-rpc-server.php).
 * The same client against RoadRunner's own rpc plugin is exercised by tests/integration/jobs_kv_test.go.
 */
final class RpcClientTest extends TestCase
{
    private ?string $directory = null;

    protected function tearDown(): void
    {
        if ($this->directory !== null) {
            array_map('unlink', glob($this->directory . '/*') ?: []);
            @rmdir($this->directory);
        }
    }

    public function testTcpCallsShareOneConnectionWithIncreasingSequenceIds(): void
    {
        $server = new FakeRpcServer();
        $client = new RpcClient($server->address, 5.0);

        self::assertFalse($client->isConnected(), 'connects on the first call');
        self::assertSame(
            ['seq' => 1, 'connection' => 1, 'flags' => Frame::CODEC_JSON],
            $client->call('test.Info', true),
        );
        self::assertSame(
            ['seq' => 2, 'connection' => 1, 'flags' => Frame::CODEC_JSON],
            $client->call('test.Info', true),
        );
        self::assertSame(['a' => [1, 2], 's' => 'é'], $client->call('test.Echo', ['a' => [1, 2], 's' => 'é']));
        self::assertTrue($client->isConnected());
    }

    public function testUnixSocket(): void
    {
        $this->directory = sys_get_temp_dir() . '/rr-rpc-' . bin2hex(random_bytes(4));
        mkdir($this->directory);
        $server = new FakeRpcServer('unix://' . $this->directory . '/rpc.sock');

        self::assertSame('pong', (new RpcClient($server->address))->call('test.Echo', 'pong'));
    }

    public function testEmptyArgumentSendsZeroBytes(): void
    {
        $server = new FakeRpcServer();
        (new RpcClient($server->address))->call('jobs.List');

        self::assertSame('', $server->calls()[0]['body']);
        self::assertSame('jobs.List', $server->calls()[0]['method']);
    }

    public function testMegabytePayloadsRoundTrip(): void
    {
        $server = new FakeRpcServer();
        $value = base64_encode(random_bytes(1 << 20));

        self::assertSame($value, (new RpcClient($server->address))->call('test.Echo', $value));
    }

    public function testErrorFrameThrowsTheServerMessageAndKeepsTheConnection(): void
    {
        $server = new FakeRpcServer();
        $client = new RpcClient($server->address);

        try {
            $client->call('test.Fail', true);
            self::fail('expected a ServiceException');
        } catch (ServiceException $e) {
            self::assertSame("boom:\n\tnested cause", $e->serverMessage);
            self::assertSame('RPC test.Fail failed: boom: nested cause', $e->getMessage());
        }
        self::assertSame(1, $client->call('test.Info', true)['connection'], 'the conversation is intact');
    }

    public function testAnswerWithAnotherSequenceIdClosesTheConnection(): void
    {
        $server = new FakeRpcServer();
        $client = new RpcClient($server->address);

        try {
            $client->call('test.WrongSeq', true);
            self::fail('expected an UnexpectedResponseException');
        } catch (UnexpectedResponseException $e) {
            self::assertStringContainsString('sequence id 2, the call had 1', $e->getMessage());
        }
        self::assertFalse($client->isConnected());
        self::assertSame(2, $client->call('test.Info', true)['connection'], 'the next call reconnects');
    }

    public function testTimeout(): void
    {
        $server = new FakeRpcServer();
        $client = new RpcClient($server->address, 0.3);

        $start = microtime(true);
        try {
            $client->call('test.Silent', true);
            self::fail('expected a TimeoutException');
        } catch (TimeoutException $e) {
            self::assertStringContainsString('timed out waiting for the answer to test.Silent', $e->getMessage());
        }
        self::assertEqualsWithDelta(0.3, microtime(true) - $start, 0.25);
        self::assertFalse($client->isConnected(), 'a late answer must not be read by the next call');
        self::assertSame(2, $client->call('test.Info', true)['connection']);
    }

    public function testServerClosingMidCallIsAConnectionError(): void
    {
        $server = new FakeRpcServer();
        $client = new RpcClient($server->address);

        $this->expectException(ConnectionException::class);
        $this->expectExceptionMessage('RoadRunner closed the connection while the answer to test.Hangup was awaited');
        $client->call('test.Hangup', true);
    }

    public function testReconnectsAfterTheServerRestarted(): void
    {
        $server = new FakeRpcServer();
        $client = new RpcClient($server->address);
        self::assertSame(1, $client->call('test.Info', true)['connection']);

        $server->stop();
        try {
            $client->call('test.Info', true);
            self::fail('expected a ConnectionException while the server is down');
        } catch (ConnectionException $e) {
            self::assertStringContainsString(
                'Cannot connect to the RoadRunner RPC server at ' . $server->address,
                $e->getMessage(),
            );
        }

        $server->start();
        self::assertSame(1, $client->call('test.Info', true)['connection'], 'a new server, a new connection');
    }

    public function testStaleConnectionIsReplacedBeforeTheCall(): void
    {
        $server = new FakeRpcServer();
        $client = new RpcClient($server->address);
        $client->call('test.Info', true);

        // The server restarts between two calls: the idle connection is found closed and
        // replaced, so the call itself succeeds.
        $server->stop();
        $server->start();

        self::assertSame(
            ['seq' => 2, 'connection' => 1, 'flags' => Frame::CODEC_JSON],
            $client->call('test.Info', true),
        );
    }

    public function testRefusedConnectionNamesTheAddress(): void
    {
        $server = new FakeRpcServer();
        $address = $server->address;
        $server->stop();

        $this->expectException(ConnectionException::class);
        $this->expectExceptionMessage("Cannot connect to the RoadRunner RPC server at $address");
        (new RpcClient($address, 2.0))->call('test.Info', true);
    }

    public function testAddressFromTheEnvironment(): void
    {
        $previous = getenv('RR_RPC');
        try {
            putenv('RR_RPC=tcp://10.1.2.3:7001');
            self::assertSame('tcp://10.1.2.3:7001', RpcClient::fromEnvironment()->address);
            putenv('RR_RPC');
            self::assertSame('tcp://127.0.0.1:6001', RpcClient::fromEnvironment()->address);
        } finally {
            putenv($previous === false ? 'RR_RPC' : "RR_RPC=$previous");
        }
    }

    public function testInvalidAddressIsRefusedClearly(): void
    {
        $this->expectException(\InvalidArgumentException::class);
        $this->expectExceptionMessage('must be tcp://host:port or unix:///path/to.sock');

        (new RpcClient('127.0.0.1:6001'))->call('test.Info', true);
    }
}
