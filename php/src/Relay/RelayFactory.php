<?php

declare(strict_types=1);

namespace PivotPHP\Runtime\RoadRunner\Relay;

use PivotPHP\Runtime\RoadRunner\Exception\RelayException;

/**
 * Builds the relay RoadRunner asked for in `RR_RELAY`.
 */
final class RelayFactory
{
    public const ENVIRONMENT_VARIABLE = 'RR_RELAY';

    /** `RR_RELAY` unset or empty means pipes, RoadRunner's default. */
    public static function fromEnvironment(): RelayInterface
    {
        $value = getenv(self::ENVIRONMENT_VARIABLE);

        return self::create($value === false || $value === '' ? 'pipes' : $value);
    }

    /**
     * @param string $address `pipes`, `tcp://host:port` or `unix:///path/to.sock`
     */
    public static function create(string $address): RelayInterface
    {
        $address = trim($address);

        if ($address === 'pipes' || $address === 'pipe') {
            return StreamRelay::fromStdio();
        }
        if (str_starts_with($address, 'tcp://') || str_starts_with($address, 'unix://')) {
            return new SocketRelay($address);
        }

        throw new RelayException(sprintf(
            'Unsupported %s value "%s": expected "pipes", "tcp://host:port" or "unix:///path/to.sock"',
            self::ENVIRONMENT_VARIABLE,
            $address,
        ));
    }
}
