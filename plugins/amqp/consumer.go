package amqp

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"

	amqp "github.com/rabbitmq/amqp091-go"
	"go.uber.org/zap"
)

// consumer is one basic.consume on a channel of its own. Run/Resume start one; Pause/Stop
// cancel it and return what it prefetched; a lost connection abandons it (the broker requeues
// its unacked deliveries by itself).
type consumer struct {
	d     *Driver
	sess  *session
	ch    *amqp.Channel
	tag   string
	acker *acker

	stopping atomic.Bool   // cancelled on purpose: deliveries still arriving go back at once
	loopDone chan struct{} // closed when the deliveries channel is drained

	mu   sync.Mutex
	live int // deliveries taken (queued in rr or running), not yet settled
	idle chan struct{}
}

func (d *Driver) startConsumer(s *session) (*consumer, error) {
	ch, err := s.conn.Channel()
	if err != nil {
		return nil, err
	}
	if err := ch.Qos(d.cfg.Prefetch, 0, false); err != nil {
		_ = ch.Close()
		return nil, err
	}

	// the queue again (idempotent): an auto-delete queue is gone after Pause cancelled its
	// last consumer, and someone may have deleted it
	if _, err := ch.QueueDeclare(d.cfg.Queue, d.cfg.Durable, d.cfg.QueueAutoDelete, d.cfg.Exclusive, false, d.cfg.QueueHeaders); err != nil {
		_ = ch.Close()
		return nil, fmt.Errorf("declaring queue %q: %w", d.cfg.Queue, err)
	}
	if err := ch.QueueBind(d.cfg.Queue, d.cfg.RoutingKey, d.cfg.Exchange, false, nil); err != nil {
		_ = ch.Close()
		return nil, fmt.Errorf("binding queue %q: %w", d.cfg.Queue, err)
	}

	c := &consumer{
		d:        d,
		sess:     s,
		ch:       ch,
		tag:      d.cfg.ConsumerID, // one consumer per channel: the tag is unique as it is
		acker:    &acker{ch: ch, multiple: d.cfg.MultipleAck},
		loopDone: make(chan struct{}),
	}

	deliveries, err := ch.Consume(d.cfg.Queue, c.tag, false, false, false, false, nil)
	if err != nil {
		_ = ch.Close()
		return nil, err
	}

	// A channel the broker closes (or a consumer it cancels, e.g. the queue was deleted) is
	// a broken session: drop the connection, the redial loop declares everything again.
	closed := ch.NotifyClose(make(chan *amqp.Error, 1))
	go func() {
		if e, ok := <-closed; ok && e != nil && !s.conn.IsClosed() {
			d.log.Warn("consumer channel closed by the broker", zap.String("pipeline", d.cfg.Name), zap.Error(e))
			s.fail()
		}
	}()

	go c.loop(deliveries)
	return c, nil
}

func (c *consumer) loop(deliveries <-chan amqp.Delivery) {
	defer close(c.loopDone)
	d := c.d
	for dlv := range deliveries {
		c.acker.track(dlv.DeliveryTag)
		if c.stopping.Load() {
			_ = c.acker.nack(dlv.DeliveryTag, true)
			continue
		}

		it := unpack(dlv, d.cfg.Name, d.cfg.Queue, d.cfg.Priority)
		it.cons = c
		c.mu.Lock()
		c.live++
		c.mu.Unlock()
		d.pq.Insert(it)
	}

	if !c.stopping.Load() && !c.ch.IsClosed() {
		d.log.Warn("the broker cancelled the consumer (queue deleted?); reconnecting", zap.String("pipeline", d.cfg.Name), zap.String("queue", d.cfg.Queue))
		c.sess.fail()
	}
}

// release is called once per delivery when it is settled (or abandoned).
func (c *consumer) release() {
	c.mu.Lock()
	c.live--
	if c.live <= 0 && c.idle != nil {
		close(c.idle)
		c.idle = nil
	}
	c.mu.Unlock()
}

func (c *consumer) liveCount() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.live
}

// waitIdle waits until every delivery is settled, ctx ends or the session dies.
func (c *consumer) waitIdle(ctx context.Context) bool {
	c.mu.Lock()
	if c.live <= 0 {
		c.mu.Unlock()
		return true
	}
	if c.idle == nil {
		c.idle = make(chan struct{})
	}
	idle := c.idle
	c.mu.Unlock()

	select {
	case <-idle:
		return true
	case <-ctx.Done():
		return false
	case <-c.sess.closed:
		return false
	}
}

// cancel stops the deliveries: basic.cancel, then wait until amqp091 handed over everything
// it had buffered (those go straight back to the broker).
func (c *consumer) cancel(ctx context.Context) {
	c.stopping.Store(true)
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := c.ch.Cancel(c.tag, false); err != nil && !c.ch.IsClosed() {
			c.d.log.Warn("basic.cancel failed", zap.String("pipeline", c.d.cfg.Name), zap.Error(err))
		}
	}()
	select {
	case <-done:
	case <-ctx.Done():
		return
	case <-c.sess.closed:
		return
	}
	select {
	case <-c.loopDone:
	case <-ctx.Done():
	case <-c.sess.closed:
	}
}

// returnQueued takes this pipeline's jobs that no worker has started yet out of rr's queue and
// gives them back to the broker (basic.nack requeue: redelivered as they were, to this or
// another instance, no attempt counted).
func (d *Driver) returnQueued() int {
	n := 0
	for _, j := range d.pq.Remove(d.cfg.Name) {
		it, ok := j.(*Item)
		if !ok || it.cons == nil {
			continue
		}
		if !it.state.CompareAndSwap(itemQueued, itemDone) {
			continue
		}
		// auto_ack jobs too: they are acked only when a worker starts them
		_ = it.cons.acker.nack(it.tag, true)
		it.cons.release()
		n++
	}
	return n
}

// dropQueued forgets this pipeline's queued jobs after the connection was lost: the broker
// requeued them already, running them here would run them twice.
func (d *Driver) dropQueued() int {
	n := 0
	for _, j := range d.pq.Remove(d.cfg.Name) {
		it, ok := j.(*Item)
		if !ok || it.cons == nil {
			continue
		}
		if it.state.CompareAndSwap(itemQueued, itemDone) {
			it.cons.release()
			n++
		}
	}
	return n
}

// acker settles deliveries of one channel. With multiple_ack it acks with multiple=true, but
// only up to the highest tag below which every delivery is settled: RoadRunner's driver acks
// multiple up to the finished job's tag, which also acks jobs still running or still queued
// in rr (lost if rr dies then).
type acker struct {
	ch       *amqp.Channel
	multiple bool

	mu      sync.Mutex
	pending []ackEntry // multiple only: unsettled-or-held deliveries in tag order
}

type ackEntry struct {
	tag   uint64
	state uint8 // 0 open, 1 done (ack held), 2 nacked
}

func (a *acker) track(tag uint64) {
	if !a.multiple {
		return
	}
	a.mu.Lock()
	a.pending = append(a.pending, ackEntry{tag: tag})
	a.mu.Unlock()
}

func (a *acker) ack(tag uint64) error {
	if a.ch.IsClosed() {
		return amqp.ErrClosed
	}
	if !a.multiple {
		return a.ch.Ack(tag, false)
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	a.mark(tag, 1)
	return a.flush()
}

func (a *acker) nack(tag uint64, requeue bool) error {
	if !a.multiple {
		return a.ch.Nack(tag, false, requeue)
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	err := a.ch.Nack(tag, false, requeue)
	a.mark(tag, 2)
	if ferr := a.flush(); err == nil {
		err = ferr
	}
	return err
}

func (a *acker) mark(tag uint64, state uint8) {
	for i := range a.pending {
		if a.pending[i].tag == tag {
			a.pending[i].state = state
			return
		}
	}
}

// flush acks (multiple) the settled prefix of pending.
func (a *acker) flush() error {
	var last uint64
	n := 0
	for n < len(a.pending) && a.pending[n].state != 0 {
		if a.pending[n].state == 1 {
			last = a.pending[n].tag
		}
		n++
	}
	a.pending = a.pending[n:]
	if last == 0 {
		return nil
	}
	return a.ch.Ack(last, true)
}
