<?php

declare(strict_types=1);

// A worker that frames its answers the way the official RoadRunner PHP libraries do
// (spiral/roadrunner-worker and roadrunner-http), written here from the wire protocol so that
// pivot is tested against a worker it was not built with:
//   - exact-length reads of stdin (no read-ahead buffer of its own);
//   - a streamed response puts data in its LAST frame (STREAM clear) as well as in the others;
//   - between two chunks it polls stdin without blocking and handles only what a stream
//     expects (STOP, PONG); any other frame it reads there is dropped, as the official stream
//     mode does with what it does not wait for;
//   - a PING on every 5th frame of a stream;
//   - 1xx interim answers (103 Early Hints) as a frame of their own before the final one;
//   - the pid handshake with no capability but the pid.
//
// Routes (query parameters):
//   /stream?size=N&chunk=K&seed=S  N bytes in chunks of K, the last chunk in the final frame;
//                                  the bytes are 16-byte records "SSSSSSSS:OOOOOO\n" (seed in
//                                  hex, offset in hex) so a byte from another response shows
//   /hints?status=103              a 103 with a Link header, then a 200 "final"
//   /interim-final?status=S        a single, final frame whose status is S (1xx: invalid)
//   /sleep?ms=N                    answers "slept" after N ms
//   /error                         an ERROR frame
//   /drop                          no answer at all: the worker waits for its next request
//   /pid                           the worker's pid
//   anything else                  "hello <path>"

const STREAM = 0x01;
const STOP = 0x02;
const PING = 0x04;
const PONG = 0x08;
const CONTROL = 0x01;
const ERROR = 0x40;
const CODEC_JSON = 0x08;

$stdin = STDIN;
$stdout = STDOUT;

function readExact($in, int $n): ?string
{
    $buf = '';
    while (strlen($buf) < $n) {
        $chunk = fread($in, $n - strlen($buf));
        if ($chunk === false || $chunk === '') {
            if (feof($in)) {
                return null;
            }
            continue;
        }
        $buf .= $chunk;
    }
    return $buf;
}

/** @return array{flags:int, byte10:int, options:int[], payload:string}|null */
function readFrame($in): ?array
{
    $head = readExact($in, 12);
    if ($head === null) {
        return null;
    }
    $hl = ord($head[0]) & 0x0F;
    $len = unpack('V', substr($head, 2, 4))[1];
    $options = [];
    if ($hl > 3) {
        $raw = readExact($in, 4 * ($hl - 3));
        $options = array_values(unpack('V*', $raw));
    }
    $payload = $len > 0 ? readExact($in, $len) : '';
    return ['flags' => ord($head[1]), 'byte10' => ord($head[10]), 'options' => $options, 'payload' => $payload];
}

function writeFrame($out, string $payload, array $options = [], int $flags = 0, int $byte10 = 0): void
{
    $head = chr(0x10 | (3 + count($options))) . chr($flags) . pack('V', strlen($payload));
    $head .= pack('V', crc32($head)) . chr($byte10) . chr(0);
    foreach ($options as $o) {
        $head .= pack('V', $o);
    }
    $data = $head . $payload;
    while ($data !== '') {
        $n = fwrite($out, $data);
        if ($n === false || $n === 0) {
            exit(1);
        }
        $data = substr($data, $n);
    }
}

function respond($out, int $status, array $headers, string $body, bool $more = false, bool $ping = false): void
{
    $ctx = $status === 0 ? '' : json_encode(['status' => $status, 'headers' => $headers ?: (object) []]);
    writeFrame($out, $ctx . $body, [strlen($ctx)], 0, ($more ? STREAM : 0) | ($ping ? PING : 0));
}

function records(int $seed, int $from, int $to): string
{
    // 16-byte records; the range is cut to [from, to)
    $first = intdiv($from, 16);
    $s = '';
    for ($r = $first; $r * 16 < $to; $r++) {
        $s .= sprintf("%08x:%06x\n", $seed, $r * 16);
    }
    return substr($s, $from - $first * 16, $to - $from);
}

/** Polls stdin between two chunks: true when RoadRunner asked the stream to stop. */
function stopRequested($in): bool
{
    $r = [$in];
    $w = $e = null;
    while (stream_select($r, $w, $e, 0) > 0) {
        $f = readFrame($in);
        if ($f === null) {
            exit(0);
        }
        if ($f['byte10'] & STOP) {
            return true;
        }
        // PONG: nothing to do; anything else is not what a stream waits for: dropped
        $r = [$in];
    }
    return false;
}

while (true) {
    $f = readFrame($stdin);
    if ($f === null) {
        exit(0);
    }
    if ($f['flags'] & CONTROL) {
        $cmd = json_decode($f['payload'], true);
        if (!empty($cmd['pid'])) {
            writeFrame($stdout, json_encode(['pid' => getmypid()]), [], CONTROL);
            continue;
        }
        if (!empty($cmd['stop'])) {
            exit(0);
        }
        continue;
    }
    if ($f['byte10'] & (STOP | PONG)) {
        continue; // late control bits of a finished stream
    }
    $ctx = json_decode(substr($f['payload'], 0, $f['options'][0] ?? 0), true);
    $path = parse_url($ctx['uri'] ?? '/', PHP_URL_PATH) ?: '/';
    parse_str((string) parse_url($ctx['uri'] ?? '/', PHP_URL_QUERY), $q);

    switch ($path) {
        case '/stream':
            $size = (int) ($q['size'] ?? 1000);
            $chunk = max(1, (int) ($q['chunk'] ?? 100));
            $seed = (int) ($q['seed'] ?? 0);
            $head = ['Content-Type' => ['text/plain'], 'X-Seed' => [(string) $seed]];
            $sent = 0;
            $frames = 0;
            $status = 200;
            // every chunk but the last goes in a STREAM frame; the last one ends the stream
            while ($size - $sent > $chunk) {
                if ($frames > 0 && stopRequested($stdin)) {
                    respond($stdout, 0, [], '');
                    continue 3;
                }
                $frames++;
                respond($stdout, $status, $head, records($seed, $sent, $sent + $chunk), true, $frames % 5 === 0);
                $status = 0; // the context goes in the first frame only
                $sent += $chunk;
            }
            if ($frames > 0 && stopRequested($stdin)) {
                respond($stdout, 0, [], '');
                break;
            }
            respond($stdout, $status, $head, records($seed, $sent, $size));
            break;
        case '/hints':
            respond($stdout, (int) ($q['status'] ?? 103), ['Link' => ['</style.css>; rel=preload; as=style']], '', true);
            respond($stdout, 200, ['Content-Type' => ['text/plain']], 'final');
            break;
        case '/interim-final':
            respond($stdout, (int) ($q['status'] ?? 103), [], '');
            break;
        case '/sleep':
            usleep(1000 * (int) ($q['ms'] ?? 10));
            respond($stdout, 200, ['Content-Type' => ['text/plain']], 'slept');
            break;
        case '/error':
            writeFrame($stdout, 'boom', [], ERROR);
            break;
        case '/drop':
            break; // no answer: back to reading stdin, the request lost
        case '/pid':
            respond($stdout, 200, ['Content-Type' => ['text/plain']], (string) getmypid());
            break;
        default:
            respond($stdout, 200, ['Content-Type' => ['text/plain']], 'hello ' . $path);
    }
}
