<?php

declare(strict_types=1);

namespace PivotPHP\Runtime\RoadRunner\Tests\Rpc;

use PHPUnit\Framework\TestCase;
use PivotPHP\Runtime\RoadRunner\Goridge\Frame;
use PivotPHP\Runtime\RoadRunner\Goridge\FrameCodec;
use PivotPHP\Runtime\RoadRunner\Rpc\RpcCodec;
use PivotPHP\Runtime\RoadRunner\Rpc\ServiceException;
use PivotPHP\Runtime\RoadRunner\Rpc\UnexpectedResponseException;

/**
 * Test vectors: wire-protocol.md §5.1 (kv.Set over proto, its answer and its error) and §6
 * (informer.Workers over JSON), byte for byte.
 */
final class RpcCodecTest extends TestCase
{
    private const KV_SET_PROTO_BODY = '0a066d656d6f7279 122c0a0161120c733a353a2268656c6c6f223b1a19323033302d30312d30315430303a30303a30302b30303a3030'
        . ' 121b0a01621216613a323a7b693a303b693a313b693a313b693a323b7d';

    public function testKvSetRequestFrameIsByteExact(): void
    {
        $frame = RpcCodec::encodeRequest(1, 'kv.Set', self::bytes(self::KV_SET_PROTO_BODY), Frame::CODEC_PROTO);

        self::assertSame(
            self::bytes('15 80 59000000 31c23ae5 00 00 01000000 06000000') . 'kv.Set' . self::bytes(self::KV_SET_PROTO_BODY),
            FrameCodec::encode($frame),
        );
    }

    public function testInformerWorkersJsonRequestIsByteExact(): void
    {
        $frame = RpcCodec::encodeRequest(26, 'informer.Workers', RpcCodec::encodeJson('http'));

        self::assertSame(
            self::bytes('15 08 16000000 0971dba7 00 00 1a000000 10000000') . 'informer.Workers"http"',
            FrameCodec::encode($frame),
        );
    }

    public function testDecodesTheSpecSuccessAnswer(): void
    {
        $frame = FrameCodec::decode(self::bytes('15 80 06000000 c5dd5476 00 00 01000000 06000000') . 'kv.Set');

        self::assertSame('', RpcCodec::decodeResponse($frame, 1, 'kv.Set'));
    }

    public function testTheSpecErrorFrameBecomesServiceExceptionWithTheServerMessage(): void
    {
        $frame = FrameCodec::decode(
            self::bytes('15 c0 24000000 39e29c24 00 00 07000000 06000000') . 'kv.Set' . 'rpc_set: no such storage: nope',
        );

        try {
            RpcCodec::decodeResponse($frame, 7, 'kv.Set');
            self::fail('An error frame must throw');
        } catch (ServiceException $e) {
            self::assertSame('kv.Set', $e->method);
            self::assertSame('rpc_set: no such storage: nope', $e->serverMessage);
            self::assertSame('RPC kv.Set failed: rpc_set: no such storage: nope', $e->getMessage());
        }
    }

    public function testNestedGoErrorsAreFlattenedInTheMessageButKeptVerbatim(): void
    {
        $e = new ServiceException('jobs.Push', "rpc_push:\n\tjobs_plugin_push: no such pipeline, requested: x");

        self::assertSame(
            'RPC jobs.Push failed: rpc_push: jobs_plugin_push: no such pipeline, requested: x',
            $e->getMessage(),
        );
        self::assertStringContainsString("\n\t", $e->serverMessage);
    }

    /** @return array<string, array{0: Frame, 1: string}> */
    public static function mismatches(): array
    {
        return [
            'other seq' => [new Frame('kv.Set', [8, 6], Frame::CODEC_JSON), 'sequence id 8, the call had 7'],
            'other method' => [new Frame('kv.Has', [7, 6], Frame::CODEC_JSON), 'the answer is for method "kv.Has"'],
            'one option' => [new Frame('kv.Set', [7], Frame::CODEC_JSON), 'carries 1 options instead of 2'],
            'method longer than payload' => [new Frame(
                'kv',
                [7, 6],
                Frame::CODEC_JSON,
            ), '6-byte method name in a 2-byte payload'],
        ];
    }

    /** @dataProvider mismatches */
    public function testAnswersToAnotherCallAreRejected(Frame $frame, string $message): void
    {
        $this->expectException(UnexpectedResponseException::class);
        $this->expectExceptionMessage($message);

        RpcCodec::decodeResponse($frame, 7, 'kv.Set');
    }

    public function testJsonArguments(): void
    {
        self::assertSame('', RpcCodec::encodeJson(null), 'null = empty argument (Go zero value)');
        self::assertSame('true', RpcCodec::encodeJson(true));
        self::assertSame('{"a":"é/x","f":1.0,"l":[]}', RpcCodec::encodeJson(['a' => 'é/x', 'f' => 1.0, 'l' => []]));
        self::assertNull(RpcCodec::decodeJson('', 'x.Y'));
        self::assertSame(['items' => [['key' => 'k']]], RpcCodec::decodeJson('{"items":[{"key":"k"}]}', 'kv.Has'));
    }

    public function testUnencodableArgumentsFailBeforeAnythingIsSent(): void
    {
        $this->expectException(\InvalidArgumentException::class);
        $this->expectExceptionMessage('RPC argument cannot be encoded as JSON');

        RpcCodec::encodeJson(["\xff"]);
    }

    public function testAnswerThatIsNotJsonIsReported(): void
    {
        $this->expectException(UnexpectedResponseException::class);
        $this->expectExceptionMessage('RPC kv.MGet: the answer is not JSON');

        RpcCodec::decodeJson('{nope', 'kv.MGet');
    }

    public function testMethodNamesAreChecked(): void
    {
        $this->expectException(\InvalidArgumentException::class);
        $this->expectExceptionMessage('must look like "Service.Method"');

        RpcCodec::encodeRequest(1, 'kvSet', '');
    }

    public function testSequenceIdsAreUnsigned32Bit(): void
    {
        self::assertSame([0xFFFFFFFF, 6], RpcCodec::encodeRequest(0xFFFFFFFF, 'kv.Set', '')->options);

        $this->expectException(\InvalidArgumentException::class);
        RpcCodec::encodeRequest(0, 'kv.Set', '');
    }

    private static function bytes(string $hex): string
    {
        return (string) hex2bin(str_replace(' ', '', $hex));
    }
}
