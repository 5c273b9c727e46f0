<?php

/**
 * A chat on pivot.broadcast: rr holds the browsers' WebSocket (or EventSource) connections,
 * this worker serves the page, decides who may listen, and publishes what is sent.
 *
 *     rr serve -c examples/chat/.rr.yaml
 *
 * Routes: GET / (the page), POST /broadcast/auth (pivot asks it on every connect and
 * subscribe), POST /send (publishes the form's message to the `chat` channel).
 */

declare(strict_types=1);

use PivotPHP\Runtime\RoadRunner\Broadcast\Broadcast;
use PivotPHP\Runtime\RoadRunner\Http\HttpWorker;

require __DIR__ . '/../../php/autoload.php';

const JSON = ['Content-Type' => 'application/json'];

$http = HttpWorker::create();
$broadcast = Broadcast::fromEnvironment();
$page = file_get_contents(__DIR__ . '/index.html');

/** The user's name: the `name` cookie the page sets, else "guest". */
function userName(array $cookies): string
{
    $name = trim((string) ($cookies['name'] ?? ''));

    return $name === '' ? 'guest' : mb_substr($name, 0, 32);
}

while (($request = $http->waitRequest()) !== null) {
    try {
        switch ($request->method . ' ' . $request->path()) {
            case 'GET /':
                $http->respond(200, $page, ['Content-Type' => 'text/html; charset=utf-8']);
                break;
            case 'POST /broadcast/auth':
                // pivot's question: {"action":"connect"|"subscribe","channel":...,"user":...},
                // with the browser's own headers and cookies
                $ask = json_decode($request->body, true, 8, JSON_THROW_ON_ERROR);
                if ($ask['action'] === 'connect') {
                    $http->respond(200, Broadcast::allow(userName($request->cookies)), JSON);
                } elseif (($ask['channel'] ?? '') === 'chat') {
                    $http->respond(200, Broadcast::allow(), JSON);
                } else {
                    $http->respond(200, Broadcast::deny('only the chat channel is open'), JSON);
                }
                break;
            case 'POST /send':
                $text = trim((string) ($request->parsedBody['message'] ?? ''));
                if ($text === '') {
                    $http->respond(400, '{"error":"empty message"}', JSON);
                    break;
                }
                $broadcast->publish('chat', json_encode(
                    ['from' => userName($request->cookies), 'text' => mb_substr($text, 0, 1000)],
                    JSON_UNESCAPED_UNICODE | JSON_THROW_ON_ERROR,
                ));
                $http->respond(204);
                break;
            default:
                $http->respond(404, '{"error":"not found"}', JSON);
        }
    } catch (Throwable $e) {
        fwrite(STDERR, sprintf("[chat %d] %s: %s\n", getmypid(), $e::class, $e->getMessage()));
        $http->respond(500, '{"error":"internal error"}', JSON);
    }
}
