<?php

/**
 * The compatibility suite's worker: written against the OFFICIAL RoadRunner PHP libraries
 * (spiral/roadrunner-http, -worker, -kv, -jobs, -metrics, spiral/goridge) and nyholm/psr7, which
 * the autoloader named by RR_PHP_LIBS_AUTOLOAD provides. The same script serves pivot's pool and
 * stock RoadRunner's `http:` pool (RR_MODE=http), and consumes the jobs pipeline (RR_MODE=jobs).
 *
 * Routes (by path):
 *   /ping                      "pong"
 *   /hello                     a fixed text answer with two custom headers
 *   /status?code=&body=        that status and body
 *   /echo                      JSON of what PHP saw: method, uri, query, headers, cookies,
 *                              parsed body, raw body, uploaded files, a few $_SERVER keys;
 *                              answers repeated headers (X-Multi, Set-Cookie)
 *   /big?seed=&size=           `size` bytes of the seed's pattern, one frame
 *   /stream?mode=&seed=&size=&chunk=&pause=
 *                              the same bytes streamed: mode=gen through a Generator handed to
 *                              HttpWorker::respond(), mode=chunked through PSR7Worker::$chunkSize
 *   /error                     $psr7->getWorker()->error('boom')
 *   /hints                     a 103 Early Hints frame (endOfStream: false), then the 200
 *   /pid, /sleep?ms=           the worker's pid (after sleeping)
 *   /kv?prefix=                a KV script on the `memory` storage (Spiral\RoadRunner\KeyValue)
 *   /kv/ttl1?key=, /kv/get?key=  set($k, $v, 1) then get; get
 *   /jobs/push?n=&tag=         pushes n tasks to the `compat` pipeline (Spiral\RoadRunner\Jobs)
 *   /metrics/declare, /metrics/add?v=   Spiral\RoadRunner\Metrics
 *
 * The pattern: a 251-byte block made of md5("$seed:$j") for j = 0..15, repeated and cut to
 * `size` (compat_test.go computes the same bytes).
 */

declare(strict_types=1);

ini_set('display_errors', 'stderr');
error_reporting(E_ALL);

$autoload = getenv('RR_PHP_LIBS_AUTOLOAD');
if (!is_string($autoload) || $autoload === '' || !is_file($autoload)) {
    fwrite(STDERR, "compat worker: RR_PHP_LIBS_AUTOLOAD does not name an autoloader file\n");
    exit(1);
}
require $autoload;

use Nyholm\Psr7\Factory\Psr17Factory;
use Nyholm\Psr7\Response;
use Psr\Http\Message\ServerRequestInterface;
use Psr\Http\Message\UploadedFileInterface;
use Spiral\Goridge\RPC\RPC;
use Spiral\RoadRunner\Environment;
use Spiral\RoadRunner\Http\PSR7Worker;
use Spiral\RoadRunner\Jobs\Consumer;
use Spiral\RoadRunner\Jobs\Jobs;
use Spiral\RoadRunner\KeyValue\Factory as KVFactory;
use Spiral\RoadRunner\Metrics\Collector;
use Spiral\RoadRunner\Metrics\Metrics;
use Spiral\RoadRunner\Worker;

function compat_pattern(int $seed, int $size): string
{
    static $blocks = [];
    if (!isset($blocks[$seed])) {
        $b = '';
        for ($j = 0; $j < 16; $j++) {
            $b .= md5($seed . ':' . $j, true);
        }
        $blocks = [$seed => substr($b, 0, 251)];
    }
    if ($size <= 0) {
        return '';
    }

    return substr(str_repeat($blocks[$seed], intdiv($size, 251) + 1), 0, $size);
}

function compat_rpc(): RPC
{
    return RPC::create((string) (getenv('RR_RPC') ?: 'tcp://127.0.0.1:6001'));
}

$env = Environment::fromGlobals();

if ($env->getMode() === Environment\Mode::MODE_JOBS) {
    // The jobs pool: every task becomes a file in $COMPAT_OUT/jobs, named by its id.
    $consumer = new Consumer();
    $dir = rtrim((string) getenv('COMPAT_OUT'), '/') . '/jobs';
    @mkdir($dir, 0o777, true);
    while ($task = $consumer->waitTask()) {
        try {
            $doc = json_encode([
                'id' => $task->getId(),
                'name' => $task->getName(),
                'pipeline' => $task->getPipeline(),
                'queue' => $task->getQueue(),
                'payload' => $task->getPayload(),
                'headers' => $task->getHeaders(),
            ], JSON_THROW_ON_ERROR);
            file_put_contents($dir . '/' . $task->getId() . '.tmp', $doc);
            rename($dir . '/' . $task->getId() . '.tmp', $dir . '/' . $task->getId() . '.json');
            $task->complete();
        } catch (\Throwable $e) {
            $task->fail($e);
        }
    }

    return;
}

$factory = new Psr17Factory();
$psr7 = new PSR7Worker(Worker::create(), $factory, $factory, $factory);

function compat_json(array $v, int $status = 200): Response
{
    return new Response($status, ['Content-Type' => 'application/json'], json_encode($v, JSON_THROW_ON_ERROR | JSON_UNESCAPED_SLASHES));
}

function compat_uploads(array $files): array
{
    $out = [];
    foreach ($files as $k => $f) {
        if (is_array($f)) {
            $out[$k] = compat_uploads($f);
            continue;
        }
        /** @var UploadedFileInterface $f */
        $content = $f->getError() === UPLOAD_ERR_OK ? (string) $f->getStream() : '';
        $out[$k] = [
            'name' => $f->getClientFilename(),
            'type' => $f->getClientMediaType(),
            'size' => $f->getSize(),
            'error' => $f->getError(),
            'sha1' => sha1($content),
            'len' => strlen($content),
        ];
    }

    return $out;
}

/** Sorts string-keyed arrays by key, recursively: stock RoadRunner builds some of them from Go maps. */
function compat_ksort(mixed $v): mixed
{
    if (!is_array($v)) {
        return $v;
    }
    ksort($v);

    return array_map('compat_ksort', $v);
}

function compat_echo(ServerRequestInterface $r): Response
{
    $server = [];
    foreach ($r->getServerParams() as $k => $v) {
        if (is_string($k) && (str_starts_with($k, 'HTTP_') || in_array($k, ['REQUEST_METHOD', 'REQUEST_URI', 'REMOTE_ADDR', 'CONTENT_TYPE', 'CONTENT_LENGTH'], true))) {
            $server[$k] = $v;
        }
    }
    ksort($server);
    $headers = $r->getHeaders();
    ksort($headers);
    $resp = compat_json(compat_ksort([
        'method' => $r->getMethod(),
        'uri' => (string) $r->getUri(),
        'path' => $r->getUri()->getPath(),
        'rawQuery' => $r->getUri()->getQuery(),
        'protocol' => $r->getProtocolVersion(),
        'query' => $r->getQueryParams(),
        'headers' => $headers,
        'cookies' => $r->getCookieParams(),
        'parsed' => $r->getParsedBody(),
        // for a parsed (form, multipart) request RoadRunner sends the form as JSON in the body,
        // in Go map order: compared as data
        'body' => $r->getParsedBody() !== null && is_array($form = json_decode((string) $r->getBody(), true))
            ? ['form-as-json' => $form]
            : (string) $r->getBody(),
        'uploads' => compat_uploads($r->getUploadedFiles()),
        'server' => $server,
    ]));

    return $resp
        ->withHeader('X-Multi', ['first', 'second'])
        ->withHeader('Set-Cookie', ['c1=v1; Path=/', 'c2=v2; HttpOnly'])
        ->withHeader('Cache-Control', 'no-store');
}

function compat_kv(string $prefix): array
{
    $kv = (new KVFactory(compat_rpc()))->select('memory');
    $out = [];
    $kv->set("$prefix:a", 'alpha');
    $kv->set("$prefix:n", 42);
    $kv->set("$prefix:arr", ['x' => [1, 2, 3]]);
    $out['get_a'] = $kv->get("$prefix:a");
    $out['get_n'] = $kv->get("$prefix:n");
    $out['get_arr'] = $kv->get("$prefix:arr");
    $out['get_missing'] = $kv->get("$prefix:missing", 'default');
    $out['has_a'] = $kv->has("$prefix:a");
    $out['has_missing'] = $kv->has("$prefix:missing");
    $kv->setMultiple(["$prefix:m1" => 'one', "$prefix:m2" => 'two']);
    $many = [];
    foreach ($kv->getMultiple(["$prefix:m1", "$prefix:m2", "$prefix:m3"], 'none') as $k => $v) {
        $many[$k] = $v;
    }
    ksort($many);
    $out['get_multiple'] = $many;
    $kv->delete("$prefix:a");
    $out['has_a_after_delete'] = $kv->has("$prefix:a");
    $kv->set("$prefix:ttl", 'later', 3600);
    $ttl = $kv->getTtl("$prefix:ttl");
    $out['ttl_in_future'] = $ttl !== null && $ttl->getTimestamp() > time() + 3000 && $ttl->getTimestamp() <= time() + 3601;
    $out['ttl_none'] = $kv->getTtl("$prefix:n");
    $kv->set("$prefix:dt", 'date', new \DateInterval('PT1H'));
    $out['get_dt'] = $kv->get("$prefix:dt");
    $kv->deleteMultiple(["$prefix:m1", "$prefix:m2"]);
    $out['has_m1_after_delete_multiple'] = $kv->has("$prefix:m1");

    return $out;
}

$metricsDeclared = false;

while (true) {
    try {
        $request = $psr7->waitRequest();
        if ($request === null) {
            break;
        }
    } catch (\Throwable $e) {
        fwrite(STDERR, 'compat worker: bad request: ' . $e . "\n");
        $psr7->respond(new Response(400, [], 'bad request'));
        continue;
    }

    try {
        $q = $request->getQueryParams();
        $int = static fn (string $k, int $d = 0): int => isset($q[$k]) ? (int) $q[$k] : $d;
        switch ($request->getUri()->getPath()) {
            case '/ping':
                $psr7->respond(new Response(200, ['Content-Type' => 'text/plain'], 'pong'));
                break;

            case '/hello':
                $psr7->respond(new Response(200, [
                    'Content-Type' => 'text/plain; charset=utf-8',
                    'X-Compat' => 'yes',
                    'X-Powered-By' => 'official-libs',
                ], "Hello from the official libraries\n"));
                break;

            case '/status':
                $psr7->respond(new Response($int('code', 200), ['X-Status' => (string) $int('code', 200)], (string) ($q['body'] ?? '')));
                break;

            case '/echo':
                $psr7->respond(compat_echo($request));
                break;

            case '/big':
                $seed = $int('seed');
                $psr7->respond(new Response(200, [
                    'Content-Type' => 'application/octet-stream',
                    'X-Seed' => (string) $seed,
                ], compat_pattern($seed, $int('size'))));
                break;

            case '/stream':
                $seed = $int('seed');
                $size = $int('size');
                $chunk = max(1, $int('chunk', 4096));
                $pause = $int('pause');
                $body = compat_pattern($seed, $size);
                $headers = ['Content-Type' => ['application/octet-stream'], 'X-Seed' => [(string) $seed]];
                if (($q['mode'] ?? 'gen') === 'chunked') {
                    // PSR7Worker turns the body into a Generator of $chunkSize pieces
                    $psr7->chunkSize = $chunk;
                    try {
                        $psr7->respond(new Response(200, $headers, $body));
                    } finally {
                        $psr7->chunkSize = 0;
                    }
                    break;
                }
                $gen = (static function () use ($body, $chunk, $pause): \Generator {
                    $n = 0;
                    for ($off = 0; $off < strlen($body); $off += $chunk) {
                        if ($pause > 0 && ++$n % 4 === 0) {
                            usleep($pause);
                        }
                        yield substr($body, $off, $chunk);
                    }
                })();
                $psr7->getHttpWorker()->respond(200, $gen, $headers);
                break;

            case '/error':
                $psr7->getWorker()->error('boom');
                break;

            case '/hints':
                // http 3.4's PSR7Worker::respond() has no endOfStream argument: the 103 goes
                // through its HttpWorker, as PSR7Worker itself would send it.
                $psr7->getHttpWorker()->respond(103, '', ['Link' => ['</style.css>; rel=preload; as=style']], endOfStream: false);
                usleep(50_000);
                $psr7->respond(new Response(200, ['Content-Type' => 'text/plain'], 'final after hints'));
                break;

            case '/pid':
                $psr7->respond(new Response(200, ['Content-Type' => 'text/plain'], (string) getmypid()));
                break;

            case '/sleep':
                usleep($int('ms') * 1000);
                $psr7->respond(new Response(200, ['Content-Type' => 'text/plain'], (string) getmypid()));
                break;

            case '/kv':
                $psr7->respond(compat_json(compat_kv((string) ($q['prefix'] ?? 'p'))));
                break;

            case '/kv/ttl1':
                $kv = (new KVFactory(compat_rpc()))->select('memory');
                $key = (string) ($q['key'] ?? 'ttl1');
                $kv->set($key, 'short-lived', 1);
                $psr7->respond(compat_json(['set' => true, 'get' => $kv->get($key), 'has' => $kv->has($key)]));
                break;

            case '/kv/get':
                $kv = (new KVFactory(compat_rpc()))->select('memory');
                $key = (string) ($q['key'] ?? '');
                $psr7->respond(compat_json(['get' => $kv->get($key), 'has' => $kv->has($key)]));
                break;

            case '/jobs/push':
                $queue = (new Jobs(compat_rpc()))->connect('compat');
                $ids = [];
                $tag = (string) ($q['tag'] ?? 't');
                for ($i = 0; $i < $int('n', 1); $i++) {
                    $task = $queue->create('compat.task', "$tag-$i")->withHeader('X-Tag', $tag);
                    $ids[] = $queue->dispatch($task)->getId();
                }
                $psr7->respond(compat_json(['ids' => $ids]));
                break;

            case '/metrics/declare':
                $m = new Metrics(compat_rpc());
                $m->declare('compat_events', Collector::counter()->withHelp('Events counted by the compat worker.')->withLabels('kind'));
                $m->declare('compat_level', Collector::gauge()->withHelp('A gauge set by the compat worker.'));
                $psr7->respond(new Response(200, [], 'declared'));
                break;

            case '/metrics/add':
                $m = new Metrics(compat_rpc());
                $m->add('compat_events', (float) ($q['v'] ?? 1), ['pushed']);
                $m->set('compat_level', 7.5);
                $psr7->respond(new Response(200, [], 'added'));
                break;

            default:
                $psr7->respond(new Response(404, ['Content-Type' => 'text/plain'], 'no route'));
        }
    } catch (\Throwable $e) {
        fwrite(STDERR, 'compat worker: ' . $e . "\n");
        try {
            $psr7->respond(new Response(599, ['Content-Type' => 'text/plain'], 'worker exception: ' . $e->getMessage()));
        } catch (\Throwable) {
            $psr7->getWorker()->error((string) $e);
        }
    }
}
