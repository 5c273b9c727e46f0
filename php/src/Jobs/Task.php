<?php

declare(strict_types=1);

namespace PivotPHP\Runtime\RoadRunner\Jobs;

/**
 * A job as the consumer receives it (wire-protocol.md §4.1): the context JSON the driver
 * built (id, job, pipeline, driver, headers, queue) and the payload bytes.
 */
final class Task
{
    /** Which attempt this is, 1 for the first delivery; set by the consumer on requeue. */
    public const ATTEMPT_HEADER = 'X-Attempt';

    /**
     * @param array<string, list<string>> $headers as the driver kept them (boltdb keeps none)
     * @param string                      $payload the bytes dispatched: the string as is, an
     *                                             array as JSON ({@see json()})
     */
    public function __construct(
        public readonly string $id,
        public readonly string $name,
        public readonly string $pipeline,
        public readonly string $driver,
        public readonly string $queue,
        public readonly array $headers,
        public readonly string $payload,
        public readonly int $attempt = 1,
    ) {
    }

    /** @throws InvalidTaskException */
    public static function fromPayload(string $context, string $body): self
    {
        if ($context === '') {
            throw new InvalidTaskException('The task has no context (is this worker run by the jobs plugin?)');
        }
        try {
            $ctx = json_decode($context, true, 64, JSON_THROW_ON_ERROR);
        } catch (\JsonException $e) {
            throw new InvalidTaskException('The task context is not JSON: ' . $e->getMessage(), 0, $e);
        }
        if (!is_array($ctx) || !is_string($ctx['id'] ?? null) || !is_string($ctx['job'] ?? null)) {
            throw new InvalidTaskException('The task context lacks "id" or "job": ' . substr($context, 0, 200));
        }

        $headers = [];
        if (is_array($ctx['headers'] ?? null)) {
            foreach ($ctx['headers'] as $name => $values) {
                $headers[(string) $name] = array_values(array_map('strval', is_array($values) ? $values : [$values]));
            }
        }

        $attempt = Headers::first($headers, self::ATTEMPT_HEADER);

        return new self(
            $ctx['id'],
            $ctx['job'],
            (string) ($ctx['pipeline'] ?? 'unknown'),
            (string) ($ctx['driver'] ?? 'unknown'),
            (string) ($ctx['queue'] ?? ''),
            $headers,
            $body,
            $attempt !== null && ctype_digit($attempt) && (int) $attempt > 0 ? (int) $attempt : 1,
        );
    }

    /**
     * The payload of a job dispatched with an array. Decided by the handler, not by a header:
     * the boltdb driver loses headers, and the payload type is part of each job's contract.
     *
     * @throws PermanentFailureException when the payload is not a JSON object or array (a
     *                                   retry cannot fix that)
     */
    public function json(): array
    {
        try {
            $data = json_decode($this->payload, true, 512, JSON_THROW_ON_ERROR);
        } catch (\JsonException $e) {
            throw new PermanentFailureException(
                sprintf('The payload of %s is not JSON: %s', $this->describe(), $e->getMessage()),
                0,
                $e,
            );
        }
        if (!is_array($data)) {
            throw new PermanentFailureException(
                sprintf('The payload of %s is JSON but not an object or array', $this->describe()),
            );
        }

        return $data;
    }

    public function withAttempt(int $attempt): self
    {
        return new self(
            $this->id,
            $this->name,
            $this->pipeline,
            $this->driver,
            $this->queue,
            $this->headers,
            $this->payload,
            max(1, $attempt),
        );
    }

    public function header(string $name): ?string
    {
        return Headers::first($this->headers, $name);
    }

    /** A one-line description for logs. */
    public function describe(): string
    {
        return sprintf(
            'job "%s" (id %s, pipeline %s, attempt %d)',
            $this->name,
            $this->id,
            $this->pipeline,
            $this->attempt,
        );
    }
}
