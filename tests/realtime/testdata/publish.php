<?php

/**
 * Publishes from a PHP process that is not an HTTP worker (as a job consumer or a cron
 * script would): php publish.php tcp://127.0.0.1:6001 <channel> <message>
 */

declare(strict_types=1);

use PivotPHP\Runtime\RoadRunner\Broadcast\Broadcast;
use PivotPHP\Runtime\RoadRunner\Rpc\RpcClient;

require __DIR__ . '/../../../php/autoload.php';

[, $rpc, $channel, $message] = $argv;
putenv('RR_RPC=' . $rpc);
(new Broadcast(RpcClient::fromEnvironment()))->publish($channel, $message);
echo "published\n";
