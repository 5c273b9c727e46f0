<?php

declare(strict_types=1);

namespace PivotPHP\Runtime\RoadRunner\Tests\KV;

use PHPUnit\Framework\TestCase;
use PivotPHP\Runtime\RoadRunner\KV\InvalidValueException;
use PivotPHP\Runtime\RoadRunner\KV\RawValueCodec;
use PivotPHP\Runtime\RoadRunner\KV\TaggedValueCodec;

final class TaggedValueCodecTest extends TestCase
{
    /** @return array<string, array{0: mixed}> */
    public static function values(): array
    {
        $allBytes = '';
        for ($i = 0; $i < 256; ++$i) {
            $allBytes .= chr($i);
        }

        return [
            'every byte' => [str_repeat($allBytes, 4)],
            'unicode' => ['héllo wörld ✓ 日本語 🚀'],
            'not UTF-8' => ["\xff\xfe\x00\x80"],
            '1 MB random' => [random_bytes(1 << 20)],
            'empty string' => [''],
            'string that looks like JSON' => ['{"a":1}'],
            'string that looks like serialize()' => ['O:8:"stdClass":0:{}'],
            'int' => [42],
            'negative int' => [-9007199254740993],
            'float' => [1.5],
            'float with zero fraction' => [2.0],
            'true' => [true],
            'false' => [false],
            'null' => [null],
            'list' => [[1, 'two', 3.0, null, ['nested' => true]]],
            'map' => [['name' => 'Ada', 'tags' => ['x', 'y'], 'score' => 0.5]],
            'sparse int keys' => [[3 => 'a', 7 => 'b']],
            'empty array' => [[]],
        ];
    }

    /** @dataProvider values */
    public function testRoundTripsExactly(mixed $value): void
    {
        $codec = new TaggedValueCodec();

        self::assertSame($value, $codec->decode($codec->encode($value)));
    }

    public function testStringsAreStoredRawAfterTwoTagBytes(): void
    {
        $codec = new TaggedValueCodec();

        self::assertSame("\xFFshello", $codec->encode('hello'));
        self::assertSame("\xFFs", $codec->encode(''));
        self::assertSame(1024 * 1024 + 2, strlen($codec->encode(str_repeat('x', 1 << 20))), 'no base64, no escaping');
    }

    public function testEverythingElseIsTaggedJson(): void
    {
        $codec = new TaggedValueCodec();

        self::assertSame("\xFFj42", $codec->encode(42));
        self::assertSame("\xFFj2.0", $codec->encode(2.0));
        self::assertSame("\xFFjnull", $codec->encode(null));
        self::assertSame("\xFFj{\"a\":\"é/\",\"b\":[1,2]}", $codec->encode(['a' => 'é/', 'b' => [1, 2]]));
    }

    /** @return array<string, array{0: mixed, 1: string}> */
    public static function unstorable(): array
    {
        return [
            'object' => [new \stdClass(), 'got stdClass'],
            'object in an array' => [['user' => new \ArrayObject()], 'got ArrayObject'],
            'closure' => [static fn () => 1, 'got Closure'],
            'INF' => [INF, 'INF or NAN'],
            'binary inside an array' => [["\xff"], 'store binary data as a top-level string'],
        ];
    }

    /** @dataProvider unstorable */
    public function testRefusesWhatCannotComeBackTheSame(mixed $value, string $message): void
    {
        $this->expectException(InvalidValueException::class);
        $this->expectExceptionMessage($message);

        (new TaggedValueCodec())->encode($value);
    }

    /** @return array<string, array{0: string, 1: string}> */
    public static function foreign(): array
    {
        return [
            'serialize() output is never unserialized' => ['O:8:"stdClass":0:{}', 'was not written by'],
            'plain text' => ['hello', 'was not written by'],
            'empty' => ['', 'starts with nothing'],
            'unknown tag' => ["\xFFx1", 'unknown type tag 0x78'],
            'corrupt JSON' => ["\xFFj{", 'invalid JSON'],
        ];
    }

    /** @dataProvider foreign */
    public function testBytesFromOtherWritersAreReportedNotMisread(string $bytes, string $message): void
    {
        $this->expectException(InvalidValueException::class);
        $this->expectExceptionMessage($message);

        (new TaggedValueCodec())->decode($bytes);
    }

    public function testRawCodecPassesStringsThrough(): void
    {
        $codec = new RawValueCodec();
        $bytes = random_bytes(64);

        self::assertSame($bytes, $codec->encode($bytes));
        self::assertSame($bytes, $codec->decode($bytes));

        $this->expectException(InvalidValueException::class);
        $codec->encode(['no']);
    }
}
