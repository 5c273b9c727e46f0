<?php

declare(strict_types=1);

namespace PivotPHP\Runtime\RoadRunner\Cli;

/**
 * `pivot-rr init [DIR]`: a starter .rr.yaml and worker.php for a PivotPHP application. It never
 * overwrites: if either file exists, nothing is written and the exit code is 1.
 */
final class Init
{
    public const RR_YAML = <<<'YAML'
version: "3"

# Written by `pivot-rr init`: a PivotPHP application on RoadRunner's pivot plugin.
#   vendor/bin/pivot-rr doctor          what to fix first
#   vendor/bin/pivot-rr serve --watch   serve, and serve every saved file without a restart

rpc:
  listen: tcp://127.0.0.1:6001 # rr workers / rr reset, and the KV and jobs clients

server:
  command: "php worker.php"

logs:
  mode: development # production in production: JSON lines, and no watch mode
  level: info

pivot:
  address: 127.0.0.1:8080
  pool:
    num_workers: 4
    max_jobs: 1000 # replace a worker after this many requests
    allocate_timeout: 60s
    destroy_timeout: 60s
  shutdown_delay: 0s # behind a load balancer: how long /ready answers 503 before the drain
  # watch mode: `pivot-rr serve --watch` turns it on for one run (enabled: true for every run)
  reload:
    enabled: false
    patterns: [".php", ".env"]
    dirs: ["."]
    ignore: ["vendor", ".git"]
    debounce: 300ms

status:
  address: 127.0.0.1:2114 # /health and /ready?plugin=pivot

YAML;

    public const WORKER = <<<'PHP'
<?php

/**
 * Written by `pivot-rr init`: a PivotPHP application served by RoadRunner's workers. The
 * application boots once per worker; each request then runs with its own superglobals, body,
 * session and output (PivotPHP\Runtime\RoadRunner\PivotPHP\RoadRunnerAdapter).
 *
 *   composer require pivotphp/core pivotphp/runtime-roadrunner
 *   vendor/bin/pivot-rr serve
 */

declare(strict_types=1);

use PivotPHP\Core\Core\Application;
use PivotPHP\Runtime\RoadRunner\PivotPHP\RoadRunnerAdapter;

require __DIR__ . '/vendor/autoload.php';

// First, before the application exists: from here on only frames reach STDOUT.
$adapter = new RoadRunnerAdapter();

$app = new Application(__DIR__);

$app->get('/', fn ($req, $res) => $res->json(['hello' => 'PivotPHP on RoadRunner', 'pid' => getmypid()]));
$app->get('/hello/:name', fn ($req, $res) => $res->json(['hello' => $req->param('name')]));

// Settings from the environment (PIVOT_MAX_REQUESTS, PIVOT_MEMORY_LIMIT, PIVOT_TTL, ...),
// else production defaults; keys given here win.
$adapter->serve($app, []);

PHP;

    /**
     * @param resource $out
     * @param resource $err
     */
    public function __construct(private $out, private $err)
    {
    }

    /** @param list<string> $args */
    public function run(array $args): int
    {
        if (count($args) > 1 || (isset($args[0]) && str_starts_with($args[0], '-'))) {
            fwrite($this->err, "pivot-rr init: usage: pivot-rr init [DIR]\n");

            return 2;
        }
        $dir = $args[0] ?? (getcwd() ?: '.');
        if (!is_dir($dir)) {
            fwrite($this->err, sprintf("pivot-rr init: %s is not a directory; create it first\n", $dir));

            return 1;
        }
        $files = [$dir . '/.rr.yaml' => self::RR_YAML, $dir . '/worker.php' => self::WORKER];
        $existing = array_values(array_filter(array_keys($files), 'file_exists'));
        if ($existing !== []) {
            fwrite($this->err, sprintf(
                "pivot-rr init: %s already exist%s; nothing was written (move %s away to start over)\n",
                implode(' and ', $existing),
                count($existing) === 1 ? 's' : '',
                count($existing) === 1 ? 'it' : 'them',
            ));

            return 1;
        }
        foreach ($files as $path => $content) {
            // 'x': fails if the file appeared meanwhile, so nothing is ever overwritten
            $h = @fopen($path, 'x');
            if ($h === false || fwrite($h, $content) !== strlen($content)) {
                fwrite($this->err, sprintf("pivot-rr init: cannot write %s\n", $path));

                return 1;
            }
            fclose($h);
            fwrite($this->out, "wrote $path\n");
        }
        fwrite($this->out, "next: composer require pivotphp/core, then pivot-rr doctor and pivot-rr serve\n");

        return 0;
    }
}
