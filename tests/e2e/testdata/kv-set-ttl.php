<?php

/**
 * A KV client as spiral/roadrunner-kv writes it: kv.Set with the expiry now + $ttl formatted
 * as DATE_RFC3339 (whole seconds), through the project's goridge RPC client (JSON codec).
 *
 *     php kv-set-ttl.php <rpc address> <storage> <key> <ttl seconds>
 *
 * Prints {"ok":true} or {"ok":false,"class":…,"message":…}.
 */

declare(strict_types=1);

use PivotPHP\Runtime\RoadRunner\Rpc\RpcClient;

require __DIR__ . '/../../../php/autoload.php';

[, $address, $storage, $key, $ttl] = $argv;

try {
    $timeout = (new DateTimeImmutable())->modify(sprintf('%+d seconds', (int) $ttl))->format(DATE_RFC3339);
    (new RpcClient($address, 5.0))->call('kv.Set', [
        'storage' => $storage,
        'items' => [['key' => $key, 'value' => base64_encode('v'), 'timeout' => $timeout]],
    ]);
    echo json_encode(['ok' => true, 'timeout' => $timeout]), "\n";
} catch (Throwable $e) {
    echo json_encode(['ok' => false, 'class' => $e::class, 'message' => $e->getMessage()]), "\n";
}
