package amqp

import (
	"context"
	stderrors "errors"
	"fmt"
	"strconv"
	"sync"
	"sync/atomic"

	amqp "github.com/rabbitmq/amqp091-go"
)

// errUnroutable is a publish the broker confirmed but could not route to any queue (it came
// back as basic.return because every publish is mandatory).
type errUnroutable struct {
	exchange, key string
	reply         string
}

func (e *errUnroutable) Error() string {
	ex := e.exchange
	if ex == "" {
		ex = "(default exchange)"
	}
	return fmt.Sprintf("the broker could not route the message: no queue is bound to exchange %q with routing key %q (%s)", ex, e.key, e.reply)
}

// publisher is a channel in confirm mode shared by all pushes of a session. Each publish is
// mandatory and waits for its own confirm; concurrent publishes pipeline their confirms.
//
// Returns (basic.return) and confirms arrive on different Go channels; the broker sends a
// message's return before its ack and amqp091 hands both over from one reader goroutine, in
// order. A single goroutine records returns; a publisher that got its ack asks that goroutine
// whether its message came back, which it can answer only after it has recorded every return
// it was handed before: no race.
type publisher struct {
	ch      *amqp.Channel
	returns chan amqp.Return
	queries chan returnQuery
	done    chan struct{}
	prefix  string
	seq     atomic.Uint64

	mu       sync.Mutex
	returned map[string]amqp.Return
}

type returnQuery struct {
	id    string
	reply chan *amqp.Return
}

func newPublisher(conn *amqp.Connection) (*publisher, error) {
	ch, err := conn.Channel()
	if err != nil {
		return nil, err
	}
	if err := ch.Confirm(false); err != nil {
		_ = ch.Close()
		return nil, err
	}

	p := &publisher{
		ch:       ch,
		returns:  ch.NotifyReturn(make(chan amqp.Return)),
		queries:  make(chan returnQuery),
		done:     make(chan struct{}),
		prefix:   randomID()[:12] + "-",
		returned: make(map[string]amqp.Return),
	}
	go p.loop()
	return p, nil
}

func (p *publisher) loop() {
	defer close(p.done)
	for {
		select {
		case r, ok := <-p.returns:
			if !ok {
				return
			}
			id, _ := r.Headers[headerPublishID].(string)
			p.mu.Lock()
			if len(p.returned) > 10_000 { // returns nobody asked for (their Push timed out)
				p.returned = make(map[string]amqp.Return)
			}
			p.returned[id] = r
			p.mu.Unlock()
		case q := <-p.queries:
			q.reply <- p.take(q.id)
		}
	}
}

func (p *publisher) take(id string) *amqp.Return {
	p.mu.Lock()
	defer p.mu.Unlock()
	r, ok := p.returned[id]
	if !ok {
		return nil
	}
	delete(p.returned, id)
	return &r
}

// wasReturned tells whether the publish id came back unroutable. Call it after its confirm.
func (p *publisher) wasReturned(id string) *amqp.Return {
	q := returnQuery{id: id, reply: make(chan *amqp.Return, 1)}
	select {
	case p.queries <- q:
		return <-q.reply
	case <-p.done:
		return p.take(id)
	}
}

// pending is a publish waiting for its confirm.
type pending struct {
	p        *publisher
	id       string
	exchange string
	key      string
	dc       *amqp.DeferredConfirmation
}

// start publishes without waiting for the confirm.
func (p *publisher) start(ctx context.Context, exchange, key string, msg amqp.Publishing) (*pending, error) {
	id := p.prefix + strconv.FormatUint(p.seq.Add(1), 36)
	if msg.Headers == nil {
		msg.Headers = amqp.Table{}
	}
	msg.Headers[headerPublishID] = id

	dc, err := p.ch.PublishWithDeferredConfirmWithContext(ctx, exchange, key, true, false, msg)
	if err != nil {
		return nil, err
	}
	if dc == nil {
		return nil, stderrors.New("the publishing channel is not in confirm mode")
	}
	return &pending{p: p, id: id, exchange: exchange, key: key, dc: dc}, nil
}

// wait blocks until the broker confirmed the publish (nil), refused it, could not route it,
// or ctx ended.
func (w *pending) wait(ctx context.Context) error {
	ack, err := w.dc.WaitContext(ctx)
	if err != nil {
		return fmt.Errorf("the broker did not confirm the message in time: %w", err)
	}
	if !ack {
		if w.p.ch.IsClosed() {
			return stderrors.New("the connection to the broker was lost before it confirmed the message")
		}
		return stderrors.New("the broker refused the message (basic.nack)")
	}
	if r := w.p.wasReturned(w.id); r != nil {
		return &errUnroutable{exchange: w.exchange, key: w.key, reply: fmt.Sprintf("%d %s", r.ReplyCode, r.ReplyText)}
	}
	return nil
}

func (p *publisher) publish(ctx context.Context, exchange, key string, msg amqp.Publishing) error {
	w, err := p.start(ctx, exchange, key, msg)
	if err != nil {
		return err
	}
	return w.wait(ctx)
}
