<?php

declare(strict_types=1);

namespace PivotPHP\Runtime\RoadRunner\PivotPHP;

use PivotPHP\Core\Core\Application;
use PivotPHP\Runtime\RoadRunner\Http\HttpWorker;
use PivotPHP\Runtime\RoadRunner\Http\Request;
use PivotPHP\Runtime\RoadRunner\Lifecycle\Config;
use PivotPHP\Runtime\RoadRunner\Lifecycle\Hooks;
use PivotPHP\Runtime\RoadRunner\Lifecycle\Log;
use PivotPHP\Runtime\RoadRunner\Lifecycle\Response;
use PivotPHP\Runtime\RoadRunner\Lifecycle\Server;
use PivotPHP\Runtime\RoadRunner\Lifecycle\WorkerManager;
use PivotPHP\Runtime\RoadRunner\OutputGuard;

/**
 * Runs a PivotPHP application (pivotphp/core 1.1 to 5.x, {@see CoreLine}) in a RoadRunner worker:
 *
 * ```php
 * $adapter = new RoadRunnerAdapter();   // first: keeps STDOUT clean from here on
 * $app = new Application(__DIR__);
 * $app->get('/hello/:name', fn ($req, $res) => $res->json(['hello' => $req->param('name')]));
 * $adapter->onReset(fn () => MyCache::flush());
 * $adapter->serve($app, ['max_requests' => 500]);
 * ```
 *
 * The application boots once; each request then runs with its own superglobals, raw body,
 * session and captured output, and what the installed core line keeps between requests is reset
 * after it: the hybrid line (1.1 to 3.x) through {@see ApplicationHandler}, the PSR-15 line (4.x,
 * 5.x) through {@see Psr15ApplicationHandler}. An unsupported core stops the worker at boot. The worker replaces itself (cleanly, see {@see Server}) after `max_requests`, past
 * `memory_limit` or `ttl` ({@see Config}).
 */
final class RoadRunnerAdapter
{
    private readonly Hooks $hooks;
    private ?Server $server = null;

    /**
     * @param HttpWorker|null $worker default: this process's worker (RR_RELAY, output guard)
     */
    public function __construct(private readonly ?HttpWorker $worker = null, private readonly Log $log = new Log())
    {
        if ($worker === null) {
            // Before the application exists: PivotPHP's constructor sets display_errors=1.
            OutputGuard::install();
        }
        $this->hooks = new Hooks();
    }

    /**
     * Boots $app and serves requests until RoadRunner stops the worker.
     *
     * @param array<string, mixed> $config see {@see Config::fromArray()}: max_requests,
     *                                     memory_limit, ttl, gc_threshold, debug
     *
     * @throws UnsupportedCoreException at boot, for a core outside 1.1 to 5.x
     */
    public function serve(Application $app, array $config = []): void
    {
        if ($this->server !== null) {
            throw new \LogicException('RoadRunnerAdapter::serve() is already running');
        }
        $settings = Config::fromArray($config);
        self::exposeLogPath();

        $handler = $this->handlerFor($app);
        $handler->boot();

        $this->server = new Server(
            $this->worker ?? HttpWorker::create(),
            $settings,
            $this->hooks,
            new WorkerManager($settings),
            $this->log,
        );
        try {
            $this->server->serve($handler);
        } finally {
            $this->server = null;
        }
    }

    /** The lifecycle listeners ({@see Hooks} lists them). */
    public function hooks(): Hooks
    {
        return $this->hooks;
    }

    /** @param callable(Request): void $listener */
    public function onRequestStart(callable $listener): self
    {
        $this->hooks->onRequestStart($listener);

        return $this;
    }

    /** @param callable(Request, Response): (Response|null) $listener may return a replacement Response */
    public function onRequestEnd(callable $listener): self
    {
        $this->hooks->onRequestEnd($listener);

        return $this;
    }

    /** @param callable(): void $listener reset the application's own singletons and caches */
    public function onReset(callable $listener): self
    {
        $this->hooks->onReset($listener);

        return $this;
    }

    /**
     * The running worker's manager (request count, memory, gc, recycling) for metrics; only
     * while serve() runs, e.g. from a route handler.
     */
    public function manager(): WorkerManager
    {
        if ($this->server === null) {
            throw new \LogicException('The worker manager exists only while serve() runs');
        }

        return $this->server->manager();
    }

    /**
     * The path for the installed core's release line ({@see CoreLine}): the hybrid one for 1.1 to
     * 3.x, the PSR-15 one for 4.x and 5.x. Anything else stops the worker here, at boot, with one
     * sentence on STDERR naming the installed and the supported versions.
     *
     * @throws UnsupportedCoreException
     */
    private function handlerFor(Application $app): ApplicationHandler|Psr15ApplicationHandler
    {
        try {
            $line = CoreLine::of($app);
            if (!$line->isPsr15()) {
                return new ApplicationHandler($app, $this->log);
            }
            $requests = ServerRequestBuilder::fromInstalledFactories() ?? throw new UnsupportedCoreException(sprintf(
                '%s is installed without PSR-17 factories (pivotphp/http\'s Psr17Factory or nyholm/psr7);'
                . ' install pivotphp/core with its dependencies to serve it.',
                $line->describe(),
            ));

            return new Psr15ApplicationHandler($app, $requests, $this->log);
        } catch (UnsupportedCoreException $e) {
            $this->log->write($e->getMessage());
            throw $e;
        }
    }

    /**
     * PivotPHP's logger reads `$_ENV['LOG_PATH']`, but the CLI's default variables_order ("GPCS")
     * leaves `$_ENV` empty: a LOG_PATH set in RoadRunner's `server.env` would never arrive.
     */
    private static function exposeLogPath(): void
    {
        $logPath = getenv('LOG_PATH');
        if (!isset($_ENV['LOG_PATH']) && is_string($logPath) && $logPath !== '') {
            $_ENV['LOG_PATH'] = $logPath;
        }
    }
}
