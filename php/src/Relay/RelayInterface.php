<?php

declare(strict_types=1);

namespace PivotPHP\Runtime\RoadRunner\Relay;

use PivotPHP\Runtime\RoadRunner\Exception\FrameException;
use PivotPHP\Runtime\RoadRunner\Exception\RelayException;
use PivotPHP\Runtime\RoadRunner\Goridge\Frame;

/**
 * A duplex channel carrying goridge frames between RoadRunner and this process.
 */
interface RelayInterface
{
    /**
     * Writes the whole frame (blocks until every byte is written).
     *
     * @throws RelayException
     */
    public function send(Frame $frame): void;

    /**
     * Blocks until one complete frame has arrived.
     *
     * @throws RelayException when the peer is gone
     * @throws FrameException when the bytes are not a valid frame
     */
    public function receive(): Frame;

    /**
     * Whether input is ready to be read, waiting at most $timeout seconds (0 = just poll).
     * Used to notice the STOP bit during a stream without blocking.
     */
    public function hasPendingInput(float $timeout = 0.0): bool;
}
