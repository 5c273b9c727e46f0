<?php

declare(strict_types=1);

namespace PivotPHP\Runtime\RoadRunner\Tests\Broadcast;

use PHPUnit\Framework\TestCase;
use PivotPHP\Runtime\RoadRunner\Broadcast\Broadcast;
use PivotPHP\Runtime\RoadRunner\Broadcast\BroadcastException;
use PivotPHP\Runtime\RoadRunner\Rpc\ServiceException;
use PivotPHP\Runtime\RoadRunner\Tests\Support\RecordingRpc;

/** The pivot.Broadcast* calls Broadcast makes, as JSON bodies, and how it reads the answers. */
final class BroadcastTest extends TestCase
{
    private RecordingRpc $rpc;

    protected function setUp(): void
    {
        $this->rpc = new RecordingRpc();
    }

    public function testPublishToOneChannel(): void
    {
        (new Broadcast($this->rpc))->publish('chat', 'hello "you"');

        self::assertSame(['pivot.BroadcastPublish {"channels":["chat"],"message":"hello \"you\""}'], $this->rpc->wire());
    }

    public function testPublishToSeveralChannelsKeepsTheirOrder(): void
    {
        (new Broadcast($this->rpc))->publish(['b' => 'room.2', 'a' => 'room.1'], '{"n":1}');

        self::assertSame(['pivot.BroadcastPublish {"channels":["room.2","room.1"],"message":"{\"n\":1}"}'], $this->rpc->wire());
    }

    /** @return iterable<string, array{string|array<mixed>}> */
    public static function badChannels(): iterable
    {
        yield 'no channel' => [[]];
        yield 'empty name' => [''];
        yield 'empty name in a list' => [['a', '']];
        yield 'not a string' => [['a', 3]];
    }

    /** @dataProvider badChannels */
    public function testBadChannelsAreRefusedBeforeAnyCall(string|array $channels): void
    {
        try {
            (new Broadcast($this->rpc))->publish($channels, 'x');
            self::fail('no exception');
        } catch (\InvalidArgumentException) {
            self::assertSame([], $this->rpc->calls);
        }
    }

    public function testPresenceReadsTheList(): void
    {
        $this->rpc->willReturn([['client' => 'c1', 'user' => '42'], ['client' => 'c2', 'user' => '']]);

        $list = (new Broadcast($this->rpc))->presence('chat');

        self::assertSame(['pivot.BroadcastPresence "chat"'], $this->rpc->wire());
        self::assertSame([['client' => 'c1', 'user' => '42'], ['client' => 'c2', 'user' => '']], $list);
    }

    public function testPresenceOfAnEmptyChannelIsAnEmptyList(): void
    {
        $this->rpc->willReturn(null);

        self::assertSame([], (new Broadcast($this->rpc))->presence('nobody'));
    }

    public function testDisconnectSendsTheUser(): void
    {
        (new Broadcast($this->rpc))->disconnect('42');

        self::assertSame(['pivot.BroadcastDisconnect "42"'], $this->rpc->wire());
    }

    public function testDisconnectNeedsAUser(): void
    {
        $this->expectException(\InvalidArgumentException::class);
        (new Broadcast($this->rpc))->disconnect('');
    }

    public function testServiceErrorsBecomeBroadcastExceptions(): void
    {
        $this->rpc->willReturn(new ServiceException('pivot.BroadcastPublish', 'pivot.broadcast is not configured'));

        try {
            (new Broadcast($this->rpc))->publish('chat', 'x');
            self::fail('no exception');
        } catch (BroadcastException $e) {
            self::assertSame('publish', $e->operation);
            self::assertSame('broadcast publish failed: RPC pivot.BroadcastPublish failed: pivot.broadcast is not configured', $e->getMessage());
            self::assertInstanceOf(ServiceException::class, $e->getPrevious());
        }
    }

    public function testAuthAnswers(): void
    {
        self::assertSame('{"allow":true,"user":"42","channels":["user.42","chat"]}', Broadcast::allow('42', ['user.42', 'chat']));
        self::assertSame('{"allow":true,"user":"","channels":[],"info":{"name":"Ann"}}', Broadcast::allow(info: ['name' => 'Ann']));
        self::assertSame('{"allow":false,"reason":"not a member"}', Broadcast::deny('not a member'));
    }
}
