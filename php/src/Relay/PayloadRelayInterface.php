<?php

declare(strict_types=1);

namespace PivotPHP\Runtime\RoadRunner\Relay;

use PivotPHP\Runtime\RoadRunner\Exception\FrameException;
use PivotPHP\Runtime\RoadRunner\Exception\RelayException;
use PivotPHP\Runtime\RoadRunner\Goridge\Frame;
use PivotPHP\Runtime\RoadRunner\Payload;

/**
 * A relay that also carries worker payloads without Frame objects: the per-request path of
 * {@see \PivotPHP\Runtime\RoadRunner\Worker}. A separate interface, so that relays written
 * against {@see RelayInterface} alone keep working (through Frame objects).
 */
interface PayloadRelayInterface extends RelayInterface
{
    /**
     * Sends the same bytes as `send(new Frame($context . $body, [strlen($context)], 0,
     * $streamFlags))`.
     *
     * @throws RelayException
     */
    public function sendPayload(string $context, string $body, int $streamFlags = 0): void;

    /**
     * Like receive(), but a plain request frame (one option, the context length, no CONTROL
     * flag, no STOP/PONG bit) comes back as its Payload; any other frame as the Frame.
     *
     * @throws RelayException when the peer is gone
     * @throws FrameException when the bytes are not a valid frame
     */
    public function receivePayload(): Payload|Frame;
}
