<?php

declare(strict_types=1);

namespace PivotPHP\Runtime\RoadRunner\Lifecycle;

/**
 * Captures every byte the application prints during a request, so that none reaches STDOUT
 * (RoadRunner's frame pipe: one stray byte gets the worker killed).
 *
 * Several capture buffers are stacked because frameworks pop buffers: PivotPHP's streaming
 * `startStream()` and `endStream()` each call `ob_end_flush()`. A popped capture buffer hands
 * its content to the collector, not to the buffer below. Buffers the application opens and
 * leaves open are flushed into the capture on {@see stop()}; what the application cleans
 * (`ob_clean()`, `ob_get_clean()`, `ob_end_clean()`) is discarded, as PHP would.
 */
final class OutputCapture
{
    public const DEFAULT_DEPTH = 3;

    private string $captured = '';
    private int $baseLevel = -1;
    private int $open = 0;

    /** collector() as a Closure, made once instead of once per buffer per request. */
    private readonly \Closure $collect;

    public function __construct(private readonly int $depth = self::DEFAULT_DEPTH)
    {
        if ($depth < 1) {
            throw new \InvalidArgumentException(sprintf('OutputCapture needs at least 1 buffer, got %d', $depth));
        }
        $this->collect = $this->collector(...);
    }

    public function start(): void
    {
        if ($this->isCapturing()) {
            throw new \LogicException('OutputCapture::start() called twice: stop() the running capture first');
        }
        $this->captured = '';
        $this->baseLevel = ob_get_level();
        $this->open = 0;

        for ($i = 0; $i < $this->depth; ++$i) {
            if (!ob_start($this->collect, 0, PHP_OUTPUT_HANDLER_STDFLAGS)) {
                $this->stop();
                throw new \RuntimeException('Cannot start an output buffer to capture the response');
            }
            ++$this->open;
        }
    }

    /** Closes every buffer opened since start() and returns what was printed. */
    public function stop(): string
    {
        if (!$this->isCapturing()) {
            return '';
        }

        while (ob_get_level() > $this->baseLevel) {
            if ($this->open > 0) {
                // An application buffer flushes into a capture buffer below it; ours collect.
                if (!ob_end_flush()) {
                    break;
                }
            } else {
                // The application popped all our buffers and opened its own: take its content.
                $content = ob_get_clean();
                if ($content === false) {
                    break;
                }
                $this->captured .= $content;
            }
        }

        $this->baseLevel = -1;
        $captured = $this->captured;
        $this->captured = '';

        return $captured;
    }

    public function isCapturing(): bool
    {
        return $this->baseLevel >= 0;
    }

    private function collector(string $chunk, int $phase): string
    {
        if (($phase & PHP_OUTPUT_HANDLER_CLEAN) === 0) {
            $this->captured .= $chunk;
        }
        if (($phase & PHP_OUTPUT_HANDLER_FINAL) !== 0) {
            --$this->open;
        }

        return '';
    }
}
