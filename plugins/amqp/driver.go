package amqp

import (
	"context"
	"crypto/tls"
	stderrors "errors"
	"fmt"
	"sort"
	"strings"
	"sync"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"
	"github.com/roadrunner-server/api/v4/plugins/v3/jobs"
	"github.com/roadrunner-server/errors"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/propagation"
	"go.uber.org/zap"
)

// republishTimeout bounds a requeue / dead-letter publish made on behalf of a failed job.
const republishTimeout = 30 * time.Second

var _ jobs.Driver = (*Driver)(nil)

// Driver is one amqp pipeline: a connection of its own, kept up by a redial loop, a publishing
// channel in confirm mode, and (while consuming) a consumer feeding rr's priority queue.
type Driver struct {
	log      *zap.Logger
	cfg      *PipelineConfig
	addr     string
	addrSafe string
	tls      *tls.Config
	pq       jobs.Queue

	// opMu serialises Run/Pause/Resume/Stop and the redial loop's install/lost.
	opMu sync.Mutex

	mu          sync.Mutex
	sess        *session               // nil while disconnected
	cons        *consumer              // the active consumer
	consumers   map[*consumer]struct{} // every consumer whose channel is still open
	consuming   bool                   // Run/Resume asked to consume (and no Pause since)
	stopped     bool
	lastErr     error
	downSince   time.Time
	failures    int
	delayQueues map[string]struct{}

	stopCh   chan struct{}
	loopDone chan struct{}
}

// newDriver builds the driver and tries to connect once (at most firstDialTimeout). A broker
// that cannot be reached is not an error: the driver starts disconnected and redials; only a
// broker that refuses the declarations (a configuration problem) fails the constructor.
func newDriver(log *zap.Logger, cfg *PipelineConfig, global *GlobalConfig, tlsCfg *tls.Config, pq jobs.Queue) (*Driver, error) {
	d := &Driver{
		log:         log,
		cfg:         cfg,
		addr:        global.Addr,
		addrSafe:    redactAddr(global.Addr),
		tls:         tlsCfg,
		pq:          pq,
		consumers:   make(map[*consumer]struct{}),
		delayQueues: make(map[string]struct{}),
		stopCh:      make(chan struct{}),
		loopDone:    make(chan struct{}),
	}

	s, fatal, err := d.connect(firstDialTimeout)
	switch {
	case err != nil && fatal:
		return nil, fmt.Errorf("amqp pipeline %q (broker %s): %w", cfg.Name, d.addrSafe, err)
	case err != nil:
		d.noteFailure(err)
		log.Warn("broker unreachable at start; the pipeline starts disconnected and redials", zap.String("pipeline", cfg.Name),
			zap.String("addr", d.addrSafe), zap.Error(err))
	default:
		d.sess = s
		log.Debug("connected to the broker", zap.String("pipeline", cfg.Name), zap.String("addr", d.addrSafe))
	}

	go d.loop(s)
	return d, nil
}

// Connected tells whether the pipeline has a live connection to the broker.
func (d *Driver) Connected() bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.sess != nil
}

// downErr describes why there is no session.
func (d *Driver) downErr() error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.stopped {
		return fmt.Errorf("amqp pipeline %q is stopped", d.cfg.Name)
	}
	if d.sess != nil {
		return nil
	}
	last := "not connected yet"
	if d.lastErr != nil {
		last = d.lastErr.Error()
	}
	since := ""
	if !d.downSince.IsZero() {
		since = fmt.Sprintf(" since %s", d.downSince.UTC().Format(time.RFC3339))
	}
	attempts := ""
	if d.failures > 0 {
		attempts = fmt.Sprintf(", %d failed attempts", d.failures)
	}
	return fmt.Errorf("amqp pipeline %q: broker %s is unreachable%s (redialling%s): %s",
		d.cfg.Name, d.addrSafe, since, attempts, last)
}

func (d *Driver) session() (*session, error) {
	d.mu.Lock()
	s := d.sess
	d.mu.Unlock()
	if s == nil || s.isClosed() {
		if err := d.downErr(); err != nil {
			return nil, err
		}
		return nil, fmt.Errorf("amqp pipeline %q: broker %s: connection lost (redialling)", d.cfg.Name, d.addrSafe)
	}
	if reason := s.blocked.Load(); reason != nil {
		return nil, fmt.Errorf("amqp pipeline %q: broker %s blocks publishing (resource alarm: %s)", d.cfg.Name, d.addrSafe, *reason)
	}
	return s, nil
}

func (d *Driver) wrap(err error) error {
	return fmt.Errorf("amqp pipeline %q (broker %s): %w", d.cfg.Name, d.addrSafe, err)
}

// Push publishes the job and returns once the broker confirmed it (publisher confirms), or
// with an error: disconnected (at once, naming the pipeline and the broker), refused,
// unroutable, or not confirmed before ctx ended.
func (d *Driver) Push(ctx context.Context, job jobs.Message) error {
	const op = errors.Op("amqp_push")

	d.mu.Lock()
	stopped := d.stopped
	d.mu.Unlock()
	if stopped {
		return errors.E(op, fmt.Errorf("amqp pipeline %q is stopped", d.cfg.Name))
	}

	s, err := d.session()
	if err != nil {
		return errors.E(op, err)
	}

	msg := fromJobsMessage(job, d.cfg.Name)
	otel.GetTextMapPropagator().Inject(ctx, propagation.HeaderCarrier(msg.headers))

	for try := 0; ; try++ {
		w, delayQ, err := d.startPush(ctx, s, msg)
		if err == nil {
			err = w.wait(ctx)
		}
		var unroutable *errUnroutable
		if err != nil && delayQ != "" && try == 0 && stderrors.As(err, &unroutable) {
			// the delay queue vanished (deleted by someone): declare it again, once
			s.forget(delayQ)
			continue
		}
		if err != nil {
			return errors.E(op, d.wrap(err))
		}
		return nil
	}
}

// PushBatch publishes all jobs, then waits for all confirms (pipelined: one round trip for
// the batch, not one per job). The error names the jobs that were not confirmed; the others
// are in the broker.
func (d *Driver) PushBatch(ctx context.Context, batch []jobs.Message) error {
	const op = errors.Op("amqp_push_batch")
	d.mu.Lock()
	stopped := d.stopped
	d.mu.Unlock()
	if stopped {
		return errors.E(op, fmt.Errorf("amqp pipeline %q is stopped", d.cfg.Name))
	}
	s, err := d.session()
	if err != nil {
		return errors.E(op, err)
	}

	waits := make([]*pending, len(batch))
	var failed []string
	var firstErr error
	for i, job := range batch {
		msg := fromJobsMessage(job, d.cfg.Name)
		otel.GetTextMapPropagator().Inject(ctx, propagation.HeaderCarrier(msg.headers))
		w, _, err := d.startPush(ctx, s, msg)
		if err != nil {
			failed = append(failed, msg.id)
			if firstErr == nil {
				firstErr = err
			}
			continue
		}
		waits[i] = w
	}
	for i, w := range waits {
		if w == nil {
			continue
		}
		if err := w.wait(ctx); err != nil {
			failed = append(failed, batch[i].ID())
			if firstErr == nil {
				firstErr = err
			}
		}
	}
	if len(failed) > 0 {
		return errors.E(op, d.wrap(fmt.Errorf("%d of %d jobs not confirmed (%s): %w", len(failed), len(batch), strings.Join(failed, ", "), firstErr)))
	}
	return nil
}

// startPush publishes msg (immediately, or through a delay queue) without waiting.
func (d *Driver) startPush(ctx context.Context, s *session, msg *message) (*pending, string, error) {
	pub, err := msg.publishing()
	if err != nil {
		return nil, "", err
	}
	rk := msg.routingKey(d.cfg.RoutingKey)
	if msg.delay <= 0 {
		w, err := s.pub.start(ctx, d.cfg.Exchange, rk, pub)
		return w, "", err
	}

	if d.cfg.ExchangeType == "fanout" {
		return nil, "", fmt.Errorf("job %s: delayed jobs are not supported on a fanout exchange (%q): the delayed copy would reach every queue bound to it; push without delay or use a direct/topic exchange", msg.id, d.cfg.Exchange)
	}

	ms := msg.delay * 1000
	name := fmt.Sprintf("%s.delay.%d", d.cfg.Queue, ms)
	if rk != d.cfg.RoutingKey {
		name += "." + rk
	}
	args := amqp.Table{
		"x-dead-letter-exchange":    d.cfg.Exchange,
		"x-dead-letter-routing-key": rk,
		"x-message-ttl":             ms,
		"x-expires":                 2*ms + 60_000,
	}
	if err := d.ensureQueue(s, name, args); err != nil {
		return nil, name, err
	}
	w, err := s.pub.start(ctx, "", name, pub)
	return w, name, err
}

// fail handles Nack / NackWithOptions / Requeue: republish with attempts+1 (after delay
// seconds), or dead-letter; then ack the original delivery. Publish first, ack second: a
// crash in between runs the job twice, it never loses it.
func (d *Driver) fail(it *Item, requeue bool, delay int64, headers map[string][]string, what string) error {
	const op = errors.Op("amqp_nack")
	if !it.finish() {
		return errors.E(op, errors.Errorf("job %s was already acknowledged", it.id))
	}
	defer it.cons.release()

	if !it.autoAck && it.cons.ch.IsClosed() {
		return errors.E(op, d.wrap(fmt.Errorf("job %s: the connection to the broker was lost while it ran; the broker redelivers it (attempt not counted)", it.id)))
	}

	if headers != nil {
		it.headers = headers
	}
	msg := it.toMessage()
	msg.attempts = it.attempts + 1

	var err error
	dead := !requeue || msg.attempts >= int64(d.cfg.DeadLetterAfter)
	if dead {
		reason := fmt.Sprintf("%s %d time(s), dead_letter_after is %d", what, msg.attempts, d.cfg.DeadLetterAfter)
		if !requeue {
			reason = fmt.Sprintf("%s without requeue (attempt %d)", what, msg.attempts)
		}
		err = d.deadLetter(msg, reason)
	} else {
		err = d.republish(msg, delay)
	}

	if err != nil {
		if !it.autoAck {
			if nerr := it.cons.acker.nack(it.tag, true); nerr == nil {
				return errors.E(op, d.wrap(fmt.Errorf("job %s: could not move it (%w); it went back to the queue as it was (attempt not counted)", it.id, err)))
			}
			return errors.E(op, d.wrap(fmt.Errorf("job %s: could not move it (%w); the broker redelivers it", it.id, err)))
		}
		d.log.Error("auto_ack job failed and could not be requeued: it is lost", zap.String("pipeline", d.cfg.Name), zap.String("id", it.id), zap.Error(err))
		return errors.E(op, d.wrap(fmt.Errorf("auto_ack job %s failed and could not be requeued, it is lost: %w", it.id, err)))
	}

	if !it.autoAck {
		if err := it.cons.acker.ack(it.tag); err != nil {
			return errors.E(op, d.wrap(fmt.Errorf("job %s was requeued, but acknowledging the failed delivery failed (it may run once more): %w", it.id, err)))
		}
	}

	if dead {
		d.log.Warn("job moved to the dead-letter queue", zap.String("pipeline", d.cfg.Name), zap.String("id", it.id),
			zap.String("queue", d.cfg.DeadLetterQueue), zap.Int64("attempts", msg.attempts))
	} else {
		d.log.Debug("job requeued", zap.String("pipeline", d.cfg.Name), zap.String("id", it.id), zap.Int64("attempts", msg.attempts), zap.Int64("delay", delay))
	}
	return nil
}

// republish puts a failed job back on this pipeline's queue only (the default exchange, not the
// pipeline's exchange: on a fanout/topic exchange that would copy it to every bound queue).
// With a delay it waits in <queue>.retry.<ms>, which dead-letters to the queue.
func (d *Driver) republish(msg *message, delay int64) error {
	s, err := d.session()
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), republishTimeout)
	defer cancel()

	for try := 0; ; try++ {
		pub, err := msg.publishing()
		if err != nil {
			return err
		}
		if delay <= 0 {
			return s.pub.publish(ctx, "", d.cfg.Queue, pub)
		}
		ms := delay * 1000
		name := fmt.Sprintf("%s.retry.%d", d.cfg.Queue, ms)
		err = d.ensureQueue(s, name, amqp.Table{
			"x-dead-letter-exchange":    "",
			"x-dead-letter-routing-key": d.cfg.Queue,
			"x-message-ttl":             ms,
			"x-expires":                 2*ms + 60_000,
		})
		if err == nil {
			err = s.pub.publish(ctx, "", name, pub)
		}
		var unroutable *errUnroutable
		if err != nil && try == 0 && stderrors.As(err, &unroutable) {
			s.forget(name)
			continue
		}
		return err
	}
}

func (d *Driver) deadLetter(msg *message, reason string) error {
	s, err := d.session()
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), republishTimeout)
	defer cancel()
	pub, err := msg.publishing()
	if err != nil {
		return err
	}
	pub.Headers[HeaderDeadReason] = reason
	return s.pub.publish(ctx, "", d.cfg.DeadLetterQueue, pub)
}

// channelErr explains an ack that failed because the delivery's channel is gone.
func (d *Driver) channelErr(err error, id string) error {
	if stderrors.Is(err, amqp.ErrClosed) {
		return d.wrap(fmt.Errorf("job %s: the connection to the broker was lost while it ran; the broker redelivers it", id))
	}
	return d.wrap(fmt.Errorf("job %s: %w", id, err))
}

// consume starts a consumer on s (opMu held).
func (d *Driver) consume(s *session) error {
	c, err := d.startConsumer(s)
	if err != nil {
		return err
	}
	d.mu.Lock()
	d.cons = c
	d.consumers[c] = struct{}{}
	d.mu.Unlock()
	return nil
}

// Run starts consuming. With the broker down it returns nil: consuming starts once connected.
func (d *Driver) Run(ctx context.Context, p jobs.Pipeline) error {
	const op = errors.Op("amqp_run")
	if err := d.start(); err != nil {
		return errors.E(op, err)
	}
	d.log.Debug("pipeline started", zap.String("pipeline", p.Name()))
	return nil
}

// Resume starts consuming again after Pause.
func (d *Driver) Resume(ctx context.Context, p string) error {
	const op = errors.Op("amqp_resume")
	if p != d.cfg.Name {
		return errors.E(op, errors.Errorf("no such pipeline: %s (this is %s)", p, d.cfg.Name))
	}
	if err := d.start(); err != nil {
		return errors.E(op, err)
	}
	d.log.Debug("pipeline resumed", zap.String("pipeline", p))
	return nil
}

func (d *Driver) start() error {
	d.opMu.Lock()
	defer d.opMu.Unlock()

	d.mu.Lock()
	if d.stopped {
		d.mu.Unlock()
		return fmt.Errorf("amqp pipeline %q is stopped", d.cfg.Name)
	}
	if d.consuming {
		d.mu.Unlock()
		return fmt.Errorf("amqp pipeline %q is already consuming", d.cfg.Name)
	}
	d.consuming = true
	s := d.sess
	d.mu.Unlock()

	if s == nil {
		d.log.Info("broker not connected; the pipeline consumes once it is", zap.String("pipeline", d.cfg.Name), zap.String("addr", d.addrSafe))
		return nil
	}

	if err := d.consume(s); err != nil {
		var aerr *amqp.Error
		if stderrors.As(err, &aerr) && aerr.Server && !s.isClosed() && aerr.Code != amqp.ConnectionForced {
			// the broker refused the consumer (exclusive queue used elsewhere, no permission...)
			d.mu.Lock()
			d.consuming = false
			d.mu.Unlock()
			return d.wrap(fmt.Errorf("consuming queue %q: %w", d.cfg.Queue, err))
		}
		d.log.Warn("could not start consuming (connection trouble); retrying after reconnect", zap.String("pipeline", d.cfg.Name), zap.Error(err))
		s.fail()
	}
	return nil
}

// Pause stops consuming: the consumer is cancelled, the jobs it prefetched that no worker
// started yet go back to the broker, running ones finish (their acks still work).
func (d *Driver) Pause(ctx context.Context, p string) error {
	const op = errors.Op("amqp_pause")
	if p != d.cfg.Name {
		return errors.E(op, errors.Errorf("no such pipeline: %s (this is %s)", p, d.cfg.Name))
	}

	d.opMu.Lock()
	defer d.opMu.Unlock()

	d.mu.Lock()
	if !d.consuming {
		d.mu.Unlock()
		return errors.E(op, errors.Errorf("amqp pipeline %q is not consuming, nothing to pause", d.cfg.Name))
	}
	d.consuming = false
	c := d.cons
	d.cons = nil
	d.mu.Unlock()

	if c != nil {
		c.cancel(ctx)
		n := d.returnQueued()
		go d.retire(c)
		d.log.Debug("pipeline paused", zap.String("pipeline", p), zap.Int("returned_to_broker", n))
	}
	return nil
}

// retire closes a cancelled consumer's channel once its running jobs are settled.
func (d *Driver) retire(c *consumer) {
	c.waitIdle(context.Background())
	_ = c.ch.Close()
	d.mu.Lock()
	delete(d.consumers, c)
	d.mu.Unlock()
}

// Stop stops the pipeline gracefully: cancel the consumer, give the jobs no worker started
// back to the broker, let the running ones finish (until ctx ends; their acks work until
// then), delete the queue if delete_queue_on_stop, close the connection.
func (d *Driver) Stop(ctx context.Context) error {
	start := time.Now()

	d.opMu.Lock()
	d.mu.Lock()
	if d.stopped {
		d.mu.Unlock()
		d.opMu.Unlock()
		return nil
	}
	d.stopped = true
	close(d.stopCh)
	s := d.sess
	c := d.cons
	d.cons = nil
	d.consuming = false
	consumers := make([]*consumer, 0, len(d.consumers))
	for cc := range d.consumers {
		consumers = append(consumers, cc)
	}
	d.mu.Unlock()
	d.opMu.Unlock()

	if c != nil {
		c.cancel(ctx)
	}
	returned := d.returnQueued()

	running := 0
	for _, cc := range consumers {
		running += cc.liveCount()
	}
	left := 0
	for _, cc := range consumers {
		if !cc.waitIdle(ctx) {
			left += cc.liveCount()
		}
	}

	if s != nil && !s.isClosed() {
		if d.cfg.DeleteQueueOnStop {
			if ch, err := s.conn.Channel(); err == nil {
				if _, err := ch.QueueDelete(d.cfg.Queue, false, false, false); err != nil {
					d.log.Warn("delete_queue_on_stop: could not delete the queue", zap.String("queue", d.cfg.Queue), zap.Error(err))
				}
				_ = ch.Close()
			}
		}
		_ = s.conn.CloseDeadline(time.Now().Add(closeTimeout))
	}

	select {
	case <-d.loopDone:
	case <-ctx.Done():
	}

	fields := []zap.Field{zap.String("pipeline", d.cfg.Name), zap.Int("returned_to_broker", returned),
		zap.Int("running_at_stop", running), zap.Duration("elapsed", time.Since(start))}
	if left > 0 {
		d.log.Warn("pipeline stopped before its running jobs finished; the broker redelivers them", append(fields, zap.Int("unfinished", left))...)
	} else {
		d.log.Debug("pipeline stopped", fields...)
	}
	return nil
}

// State reports the pipeline: Ready is true while connected and consuming (false when
// disconnected, paused or not run); ErrorMessage says why while disconnected. Active is the
// number of messages ready in the broker's queue, Delayed the number in this pipeline's delay
// and retry queues, Reserved the number of jobs this instance holds (prefetched or running).
func (d *Driver) State(ctx context.Context) (*jobs.State, error) {
	d.mu.Lock()
	s := d.sess
	ready := s != nil && d.cons != nil
	var reserved int64
	for c := range d.consumers {
		reserved += int64(c.liveCount())
	}
	names := make([]string, 0, len(d.delayQueues))
	for n := range d.delayQueues {
		names = append(names, n)
	}
	d.mu.Unlock()
	sort.Strings(names)

	st := &jobs.State{
		Pipeline: d.cfg.Name,
		Driver:   PluginName,
		Queue:    d.cfg.Queue,
		Priority: uint64(d.cfg.Priority),
		Ready:    ready,
		Reserved: reserved,
	}
	if s == nil || s.isClosed() {
		st.Ready = false
		if err := d.downErr(); err != nil {
			st.ErrorMessage = err.Error()
		} else {
			st.ErrorMessage = fmt.Sprintf("amqp pipeline %q: connection lost (redialling)", d.cfg.Name)
		}
		return st, nil
	}

	if reason := s.blocked.Load(); reason != nil {
		// a blocked connection is not read by the broker at all: no depth query
		st.ErrorMessage = fmt.Sprintf("amqp pipeline %q: broker %s blocks publishing (resource alarm: %s)", d.cfg.Name, d.addrSafe, *reason)
		return st, nil
	}

	type depth struct {
		active, delayed int64
		err             error
	}
	res := make(chan depth, 1)
	go func() {
		var out depth
		ch, err := s.conn.Channel()
		if err != nil {
			res <- depth{err: err}
			return
		}
		q, err := ch.QueueDeclarePassive(d.cfg.Queue, d.cfg.Durable, d.cfg.QueueAutoDelete, d.cfg.Exclusive, false, nil)
		if err != nil {
			res <- depth{err: fmt.Errorf("inspecting queue %q: %w", d.cfg.Queue, err)}
			return
		}
		out.active = int64(q.Messages)
		for _, n := range names {
			if ch.IsClosed() {
				if ch, err = s.conn.Channel(); err != nil {
					break
				}
			}
			if q, err := ch.QueueDeclarePassive(n, d.cfg.Durable, false, false, false, nil); err == nil {
				out.delayed += int64(q.Messages)
			} else {
				d.mu.Lock()
				delete(d.delayQueues, n) // expired
				d.mu.Unlock()
			}
		}
		if !ch.IsClosed() {
			_ = ch.Close()
		}
		res <- out
	}()

	select {
	case r := <-res:
		if r.err != nil && st.ErrorMessage == "" {
			st.ErrorMessage = d.wrap(r.err).Error()
		}
		st.Active, st.Delayed = r.active, r.delayed
	case <-ctx.Done():
		st.ErrorMessage = d.wrap(fmt.Errorf("queue depth: %w", ctx.Err())).Error()
	}
	return st, nil
}
