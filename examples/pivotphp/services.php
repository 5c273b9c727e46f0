<?php

/**
 * The application's services, the same for every core line (app.php, app5.php) and for both
 * roles of worker.php: a report cached in RoadRunner's KV, and a sign-up that dispatches a
 * `welcome` job which the jobs plugin's workers (RR_MODE=jobs) run. Both reach RoadRunner over
 * RPC (rpc.listen, given to every worker as RR_RPC) with this package's own clients.
 */

declare(strict_types=1);

namespace App;

use PivotPHP\Runtime\RoadRunner\Jobs\Consumer;
use PivotPHP\Runtime\RoadRunner\Jobs\Jobs;
use PivotPHP\Runtime\RoadRunner\Jobs\PermanentFailureException;
use PivotPHP\Runtime\RoadRunner\Jobs\RetryPolicy;
use PivotPHP\Runtime\RoadRunner\Jobs\Task;
use PivotPHP\Runtime\RoadRunner\KV\Storage;
use PivotPHP\Runtime\RoadRunner\Rpc\RpcClient;

/** How long a report stays cached, in seconds. */
const REPORT_TTL = 30;

final class Services
{
    private static ?RpcClient $rpc = null;

    private static function rpc(): RpcClient
    {
        return self::$rpc ??= RpcClient::fromEnvironment(); // one connection per worker
    }

    /** The KV storage of the cached endpoint (kv.cache in .rr.yaml; APP_KV_STORAGE). */
    public static function cache(): Storage
    {
        return new Storage(self::rpc(), getenv('APP_KV_STORAGE') ?: 'cache');
    }

    /** Where the jobs leave their results (kv.results). */
    public static function results(): Storage
    {
        return new Storage(self::rpc(), 'results');
    }

    public static function jobs(): Jobs
    {
        return new Jobs(self::rpc());
    }

    /**
     * GET /reports/:name: 50 ms of work the first time, then served from KV for REPORT_TTL
     * seconds, by every worker (and every instance when kv.cache is on Redis).
     *
     * @return array<string, mixed>
     */
    public static function report(string $name): array
    {
        if (preg_match('/^[a-z0-9-]{1,40}$/', $name) !== 1) {
            throw new \InvalidArgumentException('a report name is 1 to 40 of a-z, 0-9 and -');
        }
        $cache = self::cache();
        $hit = $cache->get('report:' . $name);
        if (is_array($hit)) {
            return $hit + ['cached' => true];
        }
        usleep(50_000); // the expensive part: a query, an API call...
        $report = [
            'report' => $name,
            'checksum' => hash('sha256', $name),
            'built_by' => getmypid(),
            'built_at' => gmdate('c'),
        ];
        $cache->set('report:' . $name, $report, ttl: REPORT_TTL);

        return $report + ['cached' => false];
    }

    /**
     * POST /signup {"email": "...", "name": "..."}: validated, then a `welcome` job; the
     * response does not wait for it.
     *
     * @param mixed $body the parsed JSON body
     * @return array{id: string, status: string}
     */
    public static function signup(mixed $body): array
    {
        $body = json_decode((string) json_encode($body), true); // stdClass (core 1.x-3.x) or array
        $email = is_array($body) && is_string($body['email'] ?? null) ? $body['email'] : '';
        if (filter_var($email, FILTER_VALIDATE_EMAIL) === false) {
            throw new \InvalidArgumentException('send a JSON body with a valid "email"');
        }
        $name = is_string($body['name'] ?? null) ? mb_substr($body['name'], 0, 100) : '';
        $id = self::jobs()->dispatch(getenv('APP_JOBS_PIPELINE') ?: 'default', 'welcome', ['email' => $email, 'name' => $name]);

        return ['id' => $id, 'status' => '/jobs/' . $id];
    }

    /**
     * GET /jobs/:id: the welcome job's result, null while it has not run.
     *
     * @return array<string, mixed>|null
     */
    public static function job(string $id): ?array
    {
        $result = self::results()->get('welcome:' . $id);

        return is_array($result) ? $result : null;
    }

    /** The jobs plugin's worker (RR_MODE=jobs): runs `welcome` jobs until RoadRunner stops it. */
    public static function consume(): void
    {
        $consumer = Consumer::create(new RetryPolicy(maxAttempts: 3, delaySeconds: 2)); // first: the output guard
        $consumer->register('welcome', static function (Task $task): void {
            $payload = $task->json();
            if (!is_string($payload['email'] ?? null)) {
                throw new PermanentFailureException('welcome needs {"email": "..."}');
            }
            // a real app sends the e-mail here
            self::results()->set('welcome:' . $task->id, [
                'id' => $task->id,
                'sent_to' => $payload['email'],
                'greeting' => sprintf('Welcome, %s!', ($payload['name'] ?? '') !== '' ? $payload['name'] : $payload['email']),
                'worker' => getmypid(),
                'attempt' => $task->attempt,
            ], ttl: 3600);
        });
        $consumer->run();
    }
}
