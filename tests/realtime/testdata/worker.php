<?php

/**
 * The worker tests/realtime runs: the broadcast auth route and routes that publish from PHP.
 *
 * Auth rules: a `deny=1` cookie denies the connection; the `user` cookie is the user id, and
 * a user is subscribed to `user.<id>` at connect; channels starting with `secret` are denied
 * to everyone but the user `admin`.
 */

declare(strict_types=1);

use PivotPHP\Runtime\RoadRunner\Broadcast\Broadcast;
use PivotPHP\Runtime\RoadRunner\Http\HttpWorker;
use PivotPHP\Runtime\RoadRunner\Jobs\Consumer;
use PivotPHP\Runtime\RoadRunner\Jobs\Jobs;
use PivotPHP\Runtime\RoadRunner\Jobs\Task;

require __DIR__ . '/../../../php/autoload.php';

const JSON = ['Content-Type' => 'application/json'];

if (getenv('RR_MODE') === 'jobs') {
    // the jobs plugin's consumer: job "announce" publishes {"channel":...,"message":...}
    $consumer = Consumer::create();
    $broadcast = Broadcast::fromEnvironment();
    $consumer->register('announce', static function (Task $task) use ($broadcast): void {
        $job = $task->json();
        $broadcast->publish((string) $job['channel'], (string) $job['message']);
    });
    $consumer->run();

    return;
}

$http = HttpWorker::create();
$broadcast = Broadcast::fromEnvironment();

while (($request = $http->waitRequest()) !== null) {
    try {
        $route = $request->method . ' ' . $request->path();
        switch ($route) {
            case 'POST /broadcast/auth':
                $ask = json_decode($request->body, true, 16, JSON_THROW_ON_ERROR);
                $user = (string) ($request->cookies['user'] ?? '');
                if (($request->cookies['deny'] ?? '') === '1') {
                    $http->respond(200, Broadcast::deny('cookie deny=1'), JSON);
                    break;
                }
                if ($ask['action'] === 'connect') {
                    $http->respond(200, Broadcast::allow($user, $user === '' ? [] : ['user.' . $user]), JSON);
                    break;
                }
                $channel = (string) ($ask['channel'] ?? '');
                $ok = !str_starts_with($channel, 'secret') || ($ask['user'] ?? '') === 'admin';
                $http->respond(200, $ok ? Broadcast::allow() : Broadcast::deny('not for you'), JSON);
                break;
            case 'POST /publish':
                // {"channels":[...],"messages":[...],"stamp":bool,"round_robin":bool,"interval_us":int}:
                // each message published in order to every channel (round_robin: message i to
                // channels[i % n] only), interval_us apart; with stamp, the publish time (unix
                // µs) is prefixed: "<µs>|<message>"
                $job = json_decode($request->body, true, 16, JSON_THROW_ON_ERROR);
                if (isset($job['count'])) {
                    // generated here: "count" messages of "size" bytes, "0000yyyy…"
                    $job['messages'] = [];
                    for ($i = 0; $i < (int) $job['count']; $i++) {
                        $job['messages'][] = sprintf('%04d', $i) . str_repeat('y', (int) $job['size'] - 4);
                    }
                }
                $pause = (int) ($job['interval_us'] ?? 0);
                foreach ($job['messages'] as $i => $message) {
                    if ($pause > 0 && $i > 0) {
                        usleep($pause);
                    }
                    $channels = $job['channels'];
                    if (!empty($job['round_robin'])) {
                        // message i goes to channels[i % count] only
                        $channels = [$channels[$i % count($channels)]];
                    }
                    if (!empty($job['stamp'])) {
                        $message = sprintf('%d|%s', (int) (microtime(true) * 1e6), $message);
                    }
                    $broadcast->publish($channels, $message);
                }
                $http->respond(200, json_encode(['published' => count($job['messages'])]), JSON);
                break;
            case 'POST /dispatch':
                // a job for the consumer above: {"channel":...,"message":...}
                $id = Jobs::fromEnvironment()->dispatch('announcements', 'announce', json_decode($request->body, true, 4, JSON_THROW_ON_ERROR));
                $http->respond(200, json_encode(['job' => $id]), JSON);
                break;
            case 'GET /presence':
                $http->respond(200, json_encode($broadcast->presence((string) ($request->query['channel'] ?? ''))), JSON);
                break;
            case 'POST /disconnect':
                $broadcast->disconnect((string) ($request->query['user'] ?? ''));
                $http->respond(200, '{"ok":true}', JSON);
                break;
            default:
                $http->respond(200, 'ok', ['Content-Type' => 'text/plain']);
        }
    } catch (Throwable $e) {
        fwrite(STDERR, sprintf("[worker %d] %s: %s\n", getmypid(), $e::class, $e->getMessage()));
        $http->respond(500, json_encode(['error' => $e->getMessage()]), JSON);
    }
}
