<?php

declare(strict_types=1);

namespace PivotPHP\Runtime\RoadRunner\Jobs;

/**
 * A job to dispatch: pipeline, name, payload and options, validated on construction.
 *
 * Payload: a string travels as is (any bytes); an array travels as JSON with the header
 * `Content-Type: application/json`, and the consumer hands it back as an array.
 *
 * Options: `delay` (seconds, ≥ 0), `priority` (≥ 1; lower runs first; 0 or absent = the
 * pipeline's), `headers` (name => string|list<string>), `auto_ack` (ack on receipt: the job
 * is never retried, not even after a crash), `id` (default: a random UUID v4).
 */
final class Job
{
    public const CONTENT_TYPE = 'Content-Type';
    public const JSON = 'application/json';
    public const OPTIONS = ['delay', 'priority', 'headers', 'auto_ack', 'id'];

    private const JSON_FLAGS = JSON_THROW_ON_ERROR | JSON_UNESCAPED_SLASHES | JSON_UNESCAPED_UNICODE
        | JSON_PRESERVE_ZERO_FRACTION;

    public readonly string $id;
    public readonly string $body;
    public readonly int $delay;
    public readonly int $priority;
    public readonly bool $autoAck;
    /** @var array<string, list<string>> */
    public readonly array $headers;

    /**
     * @param array<string, mixed> $options see the class comment
     */
    public function __construct(
        public readonly string $pipeline,
        public readonly string $name,
        array|string $payload,
        array $options = [],
    ) {
        if (trim($pipeline) === '') {
            throw new InvalidJobException('Job pipeline must not be empty (a name under jobs.pipelines in .rr.yaml)');
        }
        if (trim($name) === '') {
            throw new InvalidJobException('Job name must not be empty (the consumer finds its handler by name)');
        }
        $unknown = array_diff(array_keys($options), self::OPTIONS);
        if ($unknown !== []) {
            throw new InvalidJobException(sprintf(
                'Unknown job option%s "%s"; known options: %s',
                count($unknown) > 1 ? 's' : '',
                implode('", "', $unknown),
                implode(', ', self::OPTIONS),
            ));
        }

        $this->delay = self::integer($options, 'delay', 0);
        $this->priority = self::integer($options, 'priority', 0);
        $this->autoAck = self::boolean($options, 'auto_ack');
        $this->id = self::identifier($options);
        $headers = Headers::normalize($options['headers'] ?? []);

        if (is_array($payload)) {
            try {
                $this->body = json_encode($payload, self::JSON_FLAGS);
            } catch (\JsonException $e) {
                throw new InvalidJobException(
                    sprintf('Payload of job "%s" cannot be encoded as JSON: %s', $name, $e->getMessage()),
                    0,
                    $e,
                );
            }
            $headers = Headers::with($headers, self::CONTENT_TYPE, self::JSON);
        } else {
            $this->body = $payload;
        }
        $this->headers = $headers;
    }

    /** The `Job` message of jobs.Push / jobs.PushBatch in JSON form (bytes as base64). */
    public function toRpc(): array
    {
        $options = ['pipeline' => $this->pipeline];
        if ($this->priority > 0) {
            $options['priority'] = $this->priority;
        }
        if ($this->delay > 0) {
            $options['delay'] = $this->delay;
        }
        if ($this->autoAck) {
            $options['auto_ack'] = true;
        }

        return [
            'job' => $this->name,
            'id' => $this->id,
            'payload' => base64_encode($this->body),
            'headers' => Headers::toRpc($this->headers),
            'options' => $options,
        ];
    }

    public static function uuid4(): string
    {
        $bytes = random_bytes(16);
        $bytes[6] = chr((ord($bytes[6]) & 0x0F) | 0x40);
        $bytes[8] = chr((ord($bytes[8]) & 0x3F) | 0x80);

        return vsprintf('%s%s-%s-%s-%s-%s%s%s', str_split(bin2hex($bytes), 4));
    }

    private static function integer(array $options, string $key, int $default): int
    {
        $value = $options[$key] ?? $default;
        if (!is_int($value) || $value < 0) {
            throw new InvalidJobException(
                sprintf('Job option "%s" must be a non-negative integer, got %s', $key, var_export($value, true)),
            );
        }

        return $value;
    }

    private static function boolean(array $options, string $key): bool
    {
        $value = $options[$key] ?? false;
        if (!is_bool($value)) {
            throw new InvalidJobException(
                sprintf('Job option "%s" must be a boolean, got %s', $key, get_debug_type($value)),
            );
        }

        return $value;
    }

    private static function identifier(array $options): string
    {
        if (!array_key_exists('id', $options)) {
            return self::uuid4();
        }
        if (!is_string($options['id']) || trim($options['id']) === '') {
            throw new InvalidJobException('Job option "id" must be a non-empty string');
        }

        return $options['id'];
    }
}
