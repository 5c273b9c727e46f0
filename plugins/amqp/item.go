package amqp

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"math"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"
	"github.com/roadrunner-server/api/v4/plugins/v3/jobs"
	"github.com/roadrunner-server/errors"
	"go.uber.org/zap"
)

// AMQP headers of our own (the rr_* ones are RoadRunner's, jobs.RRID etc.).
const (
	// HeaderAttempts is how many times the job failed so far (absent = never).
	HeaderAttempts = "x-pivot-attempts"
	// HeaderDeadReason says why a job was moved to the dead-letter queue.
	HeaderDeadReason = "x-pivot-dead-reason"
	// headerPublishID identifies one publish, to match a basic.return to its Push.
	headerPublishID = "x-pivot-publish-id"
	// headerRoutingKey is a job header that overrides the pipeline's routing key for one push
	// (RoadRunner's amqp driver reads the same one).
	headerRoutingKey = "x-routing-key"

	contentType = "application/octet-stream"
	// autoJobName is the job name of a message that carries none (published by another app);
	// RoadRunner's driver uses the same.
	autoJobName = "deduced_by_rr"
)

// message is a job on its way to the broker.
type message struct {
	id       string
	job      string
	pipeline string
	headers  map[string][]string
	payload  []byte
	delay    int64 // seconds, as jobs.Message.Delay
	priority int64
	autoAck  bool
	attempts int64
}

func fromJobsMessage(m jobs.Message, pipeline string) *message {
	msg := &message{
		id:       m.ID(),
		job:      m.Name(),
		pipeline: pipeline,
		headers:  copyHeaders(m.Headers()),
		payload:  m.Payload(),
		priority: m.Priority(),
	}
	if msg.id == "" {
		msg.id = randomID()
	}
	// jobs.Job panics on Delay/AutoAck without options; be defensive with other implementations.
	func() {
		defer func() { _ = recover() }()
		msg.delay = m.Delay()
		msg.autoAck = m.AutoAck()
	}()
	return msg
}

// publishing packs the job into an AMQP message: the body is the payload, everything else
// travels in headers (the same rr_* headers RoadRunner's amqp driver writes, so either can
// consume what the other published) plus x-pivot-attempts.
func (m *message) publishing() (amqp.Publishing, error) {
	hdr := copyHeaders(m.headers)
	delete(hdr, HeaderAttempts)
	delete(hdr, headerRoutingKey)

	rrHeaders, err := json.Marshal(hdr)
	if err != nil {
		return amqp.Publishing{}, err
	}

	table := amqp.Table{
		jobs.RRID:       m.id,
		jobs.RRJob:      m.job,
		jobs.RRPipeline: m.pipeline,
		jobs.RRHeaders:  rrHeaders,
		jobs.RRDelay:    m.delay,
		jobs.RRPriority: m.priority,
		jobs.RRAutoAck:  m.autoAck,
	}
	if m.attempts > 0 {
		table[HeaderAttempts] = m.attempts
	}

	return amqp.Publishing{
		Headers:      table,
		ContentType:  contentType,
		DeliveryMode: amqp.Persistent,
		MessageId:    m.id,
		Type:         m.job,
		Timestamp:    time.Now().UTC(),
		Body:         m.payload,
	}, nil
}

// routingKey returns the per-job routing key (job header x-routing-key) or def.
func (m *message) routingKey(def string) string {
	if v := m.headers[headerRoutingKey]; len(v) == 1 && v[0] != "" {
		return v[0]
	}
	return def
}

// Item is a job received from the broker, as the jobs plugin's priority queue holds it.
type Item struct {
	job      string
	id       string
	payload  []byte
	headers  map[string][]string
	priority int64
	delay    int64
	autoAck  bool
	attempts int64
	pipeline string
	queue    string

	cons *consumer
	tag  uint64
	// state: queued (in rr's queue) -> started (handed to a worker) -> done.
	state atomic.Int32
}

const (
	itemQueued int32 = iota
	itemStarted
	itemDone
)

var _ jobs.Job = (*Item)(nil)

// ID is the job id the pusher gave (rr_id), kept across requeues and instances.
func (i *Item) ID() string { return i.id }

// GroupID is the name of the pipeline that consumed the job.
func (i *Item) GroupID() string { return i.pipeline }

// Priority is the job's priority in rr's queue.
func (i *Item) Priority() int64 { return i.priority }

// Body is the payload.
func (i *Item) Body() []byte { return i.payload }

// Headers are the job's headers (plus x-pivot-attempts once it failed).
func (i *Item) Headers() map[string][]string { return i.headers }

// Attempts is how many times the job failed before this delivery.
func (i *Item) Attempts() int64 { return i.attempts }

// Name is the job's name (rr_job).
func (i *Item) Name() string { return i.job }

// Context is the job's context for the PHP worker. The jobs plugin asks for it right after it
// took the job out of its queue, to hand it to a worker: that is when the job counts as
// started (no longer returned to the broker by Pause/Stop) and when an auto_ack job is acked.
func (i *Item) Context() ([]byte, error) {
	if i.state.CompareAndSwap(itemQueued, itemStarted) && i.autoAck && i.cons != nil {
		if err := i.cons.acker.ack(i.tag); err != nil {
			i.cons.d.log.Warn("auto_ack: acknowledge failed", zap.String("id", i.id), zap.Error(err))
		}
	}

	return json.Marshal(struct {
		ID       string              `json:"id"`
		Job      string              `json:"job"`
		Driver   string              `json:"driver"`
		Queue    string              `json:"queue"`
		Headers  map[string][]string `json:"headers"`
		Pipeline string              `json:"pipeline"`
	}{i.id, i.job, PluginName, i.queue, i.headers, i.pipeline})
}

// Ack acknowledges the job: the broker forgets it.
func (i *Item) Ack() error {
	const op = errors.Op("amqp_ack")
	if !i.finish() {
		return errors.E(op, errors.Errorf("job %s was already acknowledged", i.id))
	}
	defer i.cons.release()

	if i.autoAck {
		return nil
	}
	if err := i.cons.acker.ack(i.tag); err != nil {
		return errors.E(op, i.cons.d.channelErr(err, i.id))
	}
	return nil
}

// Nack is what the jobs plugin calls when the worker crashed, timed out or answered garbage:
// the job goes back to the queue with x-pivot-attempts + 1, or to the dead-letter queue after
// dead_letter_after failures (at once with requeue_on_fail: false). Never dropped.
func (i *Item) Nack() error {
	return i.cons.d.fail(i, i.cons.d.cfg.RequeueOnFail, 0, nil, "failed")
}

// NackWithOptions is Nack with an explicit choice: requeue (after delay seconds) counting an
// attempt, or straight to the dead-letter queue.
func (i *Item) NackWithOptions(requeue bool, delay int) error {
	return i.cons.d.fail(i, requeue, int64(delay), nil, "failed")
}

// Requeue is the worker's explicit request to run the job again later: it counts as an
// attempt too (a job that always asks to be requeued ends up in the dead-letter queue).
func (i *Item) Requeue(headers map[string][]string, delay int64) error {
	return i.cons.d.fail(i, true, delay, headers, "requeued")
}

// Respond is a no-op (no reply queues).
func (i *Item) Respond([]byte, string) error { return nil }

// finish marks the job done; false if it already was.
func (i *Item) finish() bool {
	for {
		s := i.state.Load()
		if s == itemDone {
			return false
		}
		if i.state.CompareAndSwap(s, itemDone) {
			return true
		}
	}
}

// toMessage rebuilds the job for a republish.
func (i *Item) toMessage() *message {
	return &message{
		id:       i.id,
		job:      i.job,
		pipeline: i.pipeline,
		headers:  i.headers,
		payload:  i.payload,
		delay:    i.delay,
		priority: i.priority,
		autoAck:  i.autoAck,
		attempts: i.attempts,
	}
}

// unpack rebuilds a job from a delivery: the same id, name, headers, priority and auto_ack the
// pusher gave, whichever instance pushed it. Messages without rr_* headers (published by other
// applications) get a generated id (or the message id), the name "deduced_by_rr", the
// pipeline's priority and their AMQP headers as job headers.
func unpack(d amqp.Delivery, pipeline, queue string, defPriority int64) *Item {
	it := &Item{
		payload:  d.Body,
		pipeline: pipeline,
		queue:    queue,
		priority: defPriority,
		tag:      d.DeliveryTag,
	}

	if s, ok := d.Headers[jobs.RRID].(string); ok && s != "" {
		it.id = s
	} else if d.MessageId != "" {
		it.id = d.MessageId
	} else {
		it.id = randomID()
	}

	if s, ok := d.Headers[jobs.RRJob].(string); ok && s != "" {
		it.job = s
	} else if d.Type != "" {
		it.job = d.Type
	} else {
		it.job = autoJobName
	}

	switch h := d.Headers[jobs.RRHeaders].(type) {
	case []byte:
		_ = json.Unmarshal(h, &it.headers)
	case string:
		_ = json.Unmarshal([]byte(h), &it.headers)
	}
	if _, rr := d.Headers[jobs.RRID]; !rr && it.headers == nil {
		// a foreign message: its AMQP headers are the job's headers
		it.headers = make(map[string][]string, len(d.Headers))
		for k, v := range d.Headers {
			if k == headerPublishID {
				continue
			}
			it.headers[k] = headerStrings(v)
		}
	}
	if it.headers == nil {
		it.headers = make(map[string][]string)
	}

	if p, ok := tableInt(d.Headers[jobs.RRPriority]); ok && p != 0 {
		it.priority = p
	}
	if v, ok := tableInt(d.Headers[jobs.RRDelay]); ok {
		it.delay = v
	}
	if b, ok := d.Headers[jobs.RRAutoAck].(bool); ok {
		it.autoAck = b
	}
	if n, ok := tableInt(d.Headers[HeaderAttempts]); ok && n > 0 {
		it.attempts = n
		it.headers[HeaderAttempts] = []string{strconv.FormatInt(n, 10)}
	}

	return it
}

func tableInt(v any) (int64, bool) {
	switch t := v.(type) {
	case int64:
		return t, true
	case int32:
		return int64(t), true
	case int16:
		return int64(t), true
	case int8:
		return int64(t), true
	case int:
		return int64(t), true
	case uint8:
		return int64(t), true
	case uint16:
		return int64(t), true
	case uint32:
		return int64(t), true
	case float64:
		if t == math.Trunc(t) {
			return int64(t), true
		}
	case string:
		n, err := strconv.ParseInt(t, 10, 64)
		return n, err == nil
	}
	return 0, false
}

func headerStrings(v any) []string {
	switch t := v.(type) {
	case string:
		return []string{t}
	case []byte:
		return []string{string(t)}
	case []any:
		out := make([]string, 0, len(t))
		for _, e := range t {
			out = append(out, headerStrings(e)...)
		}
		return out
	case time.Time:
		return []string{t.UTC().Format(time.RFC3339)}
	case amqp.Decimal:
		return []string{strconv.FormatFloat(float64(t.Value)/math.Pow10(int(t.Scale)), 'f', int(t.Scale), 64)}
	case amqp.Table:
		b, _ := json.Marshal(t)
		return []string{string(b)}
	case nil:
		return []string{""}
	default:
		return []string{strings.TrimSpace(fmt.Sprint(t))}
	}
}

func copyHeaders(h map[string][]string) map[string][]string {
	out := make(map[string][]string, len(h)+1)
	for k, v := range h {
		out[k] = append([]string(nil), v...)
	}
	return out
}

func randomID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}
