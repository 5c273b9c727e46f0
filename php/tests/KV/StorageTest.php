<?php

declare(strict_types=1);

namespace PivotPHP\Runtime\RoadRunner\Tests\KV;

use PHPUnit\Framework\TestCase;
use PivotPHP\Runtime\RoadRunner\KV\RawValueCodec;
use PivotPHP\Runtime\RoadRunner\KV\Storage;
use PivotPHP\Runtime\RoadRunner\KV\StorageException;
use PivotPHP\Runtime\RoadRunner\Rpc\ConnectionException;
use PivotPHP\Runtime\RoadRunner\Rpc\ServiceException;
use PivotPHP\Runtime\RoadRunner\Tests\Support\RecordingRpc;

/**
 * The kv.* calls Storage makes, as JSON bodies (wire-protocol.md §5.2, §5.4: proto field
 * names, bytes as standard base64, RFC 3339 timeouts), and how it reads the answers.
 */
final class StorageTest extends TestCase
{
    private const NOW = 1700000000.25; // 2023-11-14T22:13:20.25Z

    private RecordingRpc $rpc;

    protected function setUp(): void
    {
        $this->rpc = new RecordingRpc();
    }

    private function storage(string $name = 'cache'): Storage
    {
        return new Storage($this->rpc, $name, null, static fn (): float => self::NOW);
    }

    public function testSetSendsBase64OfTheTaggedValue(): void
    {
        $this->storage()->set('greeting', "hi\x00\xff");

        self::assertSame(
            ['kv.Set {"storage":"cache","items":[{"key":"greeting","value":"/3NoaQD/"}]}'],
            $this->rpc->wire(),
        );
        self::assertSame("\xFFshi\x00\xff", base64_decode('/3NoaQD/'));
    }

    public function testTtlBecomesAnRfc3339TimeRoundedUpWithHalfASecondOfMargin(): void
    {
        $this->storage()->set('k', 1, ttl: 60);

        // now + 60 + 0.5 = …80.75, rounded up to the second: 22:14:21Z, so 60.75 s ahead.
        self::assertSame(
            ['kv.Set {"storage":"cache","items":[{"key":"k","value":"/2ox","timeout":"2023-11-14T22:14:21Z"}]}'],
            $this->rpc->wire(),
        );
    }

    public function testTtlBelowOneSecondIsRefused(): void
    {
        $this->expectException(\InvalidArgumentException::class);
        $this->expectExceptionMessage('KV TTL must be at least 1 second');

        $this->storage()->set('k', 1, ttl: 0);
    }

    public function testMsetSendsOneCall(): void
    {
        $this->storage()->mset(['a' => 'x', 7 => [1]], 5);

        self::assertSame(
            ['kv.Set {"storage":"cache","items":[{"key":"a","value":"/3N4","timeout":"2023-11-14T22:13:26Z"},'
                . '{"key":"7","value":"/2pbMV0=","timeout":"2023-11-14T22:13:26Z"}]}'],
            $this->rpc->wire(),
        );
        $this->storage()->mset([]);
        self::assertCount(1, $this->rpc->calls, 'nothing to set, nothing sent');
    }

    public function testGetUsesMGetAndDecodes(): void
    {
        $this->rpc->willReturn(['items' => [['key' => 'k', 'value' => base64_encode("\xFFj{\"n\":1}")]]], []);
        $storage = $this->storage();

        self::assertSame(['n' => 1], $storage->get('k'));
        self::assertSame('fallback', $storage->get('missing', 'fallback'), 'no items: the default');
        self::assertSame([
            'kv.MGet {"storage":"cache","items":[{"key":"k"}]}',
            'kv.MGet {"storage":"cache","items":[{"key":"missing"}]}',
        ], $this->rpc->wire());
    }

    public function testMgetAnswersEveryKeyInRequestOrder(): void
    {
        // RoadRunner answers existing keys only, in any order, and omits empty values.
        $this->rpc->willReturn(['items' => [
            ['key' => 'b', 'value' => base64_encode("\xFFsB")],
            ['key' => '3', 'value' => base64_encode("\xFFj3")],
        ]]);
        $storage = new Storage($this->rpc, 'cache');

        self::assertSame(['a' => null, 'b' => 'B', '3' => 3], $storage->mget(['a', 'b', '3', 'b']));
        self::assertSame(
            'kv.MGet {"storage":"cache","items":[{"key":"a"},{"key":"b"},{"key":"3"}]}',
            $this->rpc->wire()[0],
        );
    }

    public function testOmittedValueIsAnEmptyRawValue(): void
    {
        $this->rpc->willReturn(['items' => [['key' => 'k']]]);

        self::assertSame('', (new Storage($this->rpc, 'cache', new RawValueCodec()))->get('k'));
    }

    public function testHasDeleteClear(): void
    {
        $this->rpc->willReturn(['items' => [['key' => 'yes']]], [], null, null);
        $storage = $this->storage();

        self::assertTrue($storage->has('yes'));
        self::assertFalse($storage->has('no'));
        $storage->delete('a', 'b', 'a');
        $storage->clear();

        self::assertSame([
            'kv.Has {"storage":"cache","items":[{"key":"yes"}]}',
            'kv.Has {"storage":"cache","items":[{"key":"no"}]}',
            'kv.Delete {"storage":"cache","items":[{"key":"a"},{"key":"b"}]}',
            'kv.Clear {"storage":"cache"}',
        ], $this->rpc->wire());
    }

    public function testTtlReadsTheExpiryTime(): void
    {
        $this->rpc->willReturn(
            ['items' => [['key' => 'k', 'timeout' => '2023-11-14T22:14:21Z']]],
            ['items' => [['key' => 'k']]], // exists, no TTL
            [],                             // does not exist
            ['items' => [['key' => 'k', 'timeout' => '2023-11-14T23:14:21+01:00']]],
        );
        $storage = $this->storage();

        self::assertSame(60, $storage->ttl('k'), '60.75 s, whole seconds rounded down');
        self::assertNull($storage->ttl('k'));
        self::assertNull($storage->ttl('k'));
        self::assertSame(
            '2023-11-14T22:14:21+00:00',
            $storage->expiresAt('k')?->setTimezone(new \DateTimeZone('UTC'))->format(DATE_ATOM),
        );
        self::assertSame('kv.TTL {"storage":"cache","items":[{"key":"k"}]}', $this->rpc->wire()[0]);
    }

    public function testServerErrorsNameTheStorageAndTheOperation(): void
    {
        $this->rpc->willReturn(new ServiceException('kv.MGet', "rpc_mget:\n\tredis_driver_mget: dial tcp 127.0.0.1:6379: connect: connection refused"));

        try {
            $this->storage('redis')->get('k');
            self::fail('expected a StorageException');
        } catch (StorageException $e) {
            self::assertSame('redis', $e->storage);
            self::assertSame('get', $e->operation);
            self::assertSame(
                'KV storage "redis": get failed: RPC kv.MGet failed: rpc_mget: redis_driver_mget: dial tcp 127.0.0.1:6379: connect: connection refused',
                $e->getMessage(),
            );
            self::assertInstanceOf(ServiceException::class, $e->getPrevious());
        }
    }

    public function testConnectionErrorsAreStorageErrorsToo(): void
    {
        $this->rpc->willReturn(new ConnectionException('Cannot connect to the RoadRunner RPC server at tcp://127.0.0.1:6001: Connection refused'));

        $this->expectException(StorageException::class);
        $this->expectExceptionMessage('KV storage "cache": set failed: Cannot connect to the RoadRunner RPC server');
        $this->storage()->set('k', 'v');
    }

    public function testEmptyKeysAreRefusedBeforeAnyCall(): void
    {
        try {
            $this->storage()->set(' ', 'v');
            self::fail('expected an InvalidArgumentException');
        } catch (\InvalidArgumentException $e) {
            self::assertStringContainsString('must not be empty', $e->getMessage());
        }
        self::assertSame([], $this->rpc->calls);
    }
}
