<?php

declare(strict_types=1);

namespace PivotPHP\Runtime\RoadRunner\Lifecycle;

use PivotPHP\Runtime\RoadRunner\Exception\RelayException;
use PivotPHP\Runtime\RoadRunner\Http\HttpWorker;

/**
 * The worker loop of a long-running application: waits for requests, runs each through the
 * {@see RequestRunner}, sends the response, resets the state, and lets the
 * {@see WorkerManager} decide when the worker must be replaced.
 *
 * Replacement never drops a request: once the manager decided, the worker answers the next
 * request with `Worker::stop()` (`{"stop":true}`, wire-protocol.md §2.6); RoadRunner runs that
 * request on another worker and sends this one the stop frame, upon which {@see serve()}
 * returns. The worker never exits on its own while idle.
 */
final class Server
{
    private readonly Config $config;
    private readonly Hooks $hooks;
    private readonly WorkerManager $manager;
    private readonly Log $log;

    public function __construct(
        private readonly HttpWorker $http,
        ?Config $config = null,
        ?Hooks $hooks = null,
        ?WorkerManager $manager = null,
        ?Log $log = null,
    ) {
        $this->config = $config ?? $manager?->config() ?? Config::fromArray();
        $this->hooks = $hooks ?? new Hooks();
        $this->manager = $manager ?? new WorkerManager($this->config);
        $this->log = $log ?? new Log();
    }

    public function hooks(): Hooks
    {
        return $this->hooks;
    }

    public function manager(): WorkerManager
    {
        return $this->manager;
    }

    /** Serves until RoadRunner stops the worker. */
    public function serve(Handler $handler): void
    {
        $this->hooks->workerStarted();

        // The worker's base state is what it is now, after the application booted.
        $sessions = new Sessions();
        $runner = new RequestRunner($this->hooks, $this->log, $this->config->debug, new Superglobals(), $sessions);
        $reset = new StateReset($this->hooks, $sessions, $this->log);
        $announced = false;

        while (($request = $this->http->waitRequest()) !== null) {
            if ($this->manager->shouldRecycle()) {
                if (!$announced) {
                    $this->log->write(sprintf(
                        'Replacing this worker: it %s; its next request goes to a fresh worker',
                        $this->manager->recycleReason(),
                    ));
                    $announced = true;
                }
                $this->http->worker()->stop();
                continue;
            }

            $response = $runner->run($request, $handler);
            try {
                $this->send($response);
            } finally {
                $failures = $reset->reset($handler);
                if ($failures !== []) {
                    $this->manager->recycle('could not reset its state (' . implode('; ', $failures) . ')');
                }
                $this->manager->requestFinished();
            }
        }

        foreach ($this->hooks->workerStopped() as $failure) {
            $this->log->exception($failure, 'onWorkerStop listener failed');
        }
    }

    private function send(Response $response): void
    {
        try {
            $this->http->respond($response->status, $response->body, $response->headers);
        } catch (RelayException $e) {
            throw $e; // RoadRunner is gone or the pipe broke: nothing more can be sent
        } catch (\Throwable $e) {
            $this->log->exception($e, 'Cannot send the response');
            if ($this->http->worker()->hasPendingRequest()) {
                $this->http->error('The worker could not send its response: ' . $e->getMessage());
            }
        }
    }
}
