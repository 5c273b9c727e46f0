<?php

declare(strict_types=1);

namespace PivotPHP\Runtime\RoadRunner\Lifecycle;

use PivotPHP\Runtime\RoadRunner\Http\Request;

/**
 * Runs one request through a {@see Handler} inside the worker's request scope: superglobals
 * filled for the whole call and restored after it, session selected and closed, output
 * captured, onRequestStart/onRequestEnd listeners. Never throws: a failure becomes a 500,
 * logged to STDERR.
 */
final class RequestRunner
{
    public function __construct(
        private readonly Hooks $hooks,
        private readonly Log $log,
        private readonly bool $debug = false,
        private readonly Superglobals $globals = new Superglobals(),
        private readonly Sessions $sessions = new Sessions(),
        private readonly OutputCapture $capture = new OutputCapture(),
    ) {
    }

    public function run(Request $request, Handler $handler): Response
    {
        $this->globals->apply($request);
        try {
            $this->sessions->begin($request);
            $this->capture->start();
            try {
                $this->hooks->requestStarted($request);
                $response = $handler->handle($request);
            } finally {
                $output = $this->capture->stop();
            }

            $response = $this->sessions->finish($response->withCapturedOutput($output));
            $response = $this->hooks->requestEnded($request, $response);
            if ($response->status < 100 || $response->status > 599) {
                throw new \UnexpectedValueException(sprintf(
                    'The application answered with HTTP status %d, outside 100-599',
                    $response->status,
                ));
            }

            return $response;
        } catch (\Throwable $e) {
            $this->log->exception($e, sprintf('%s %s failed with a 500', $request->method, $request->path()));
            foreach ($this->hooks->errorOccurred($e, $request) as $failure) {
                $this->log->exception($failure, 'onError listener failed');
            }
            $this->sessions->reset();

            return Response::serverError($e, $this->debug);
        } finally {
            $this->capture->stop();
            $this->globals->restore();
        }
    }
}
