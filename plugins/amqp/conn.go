package amqp

import (
	stderrors "errors"
	"fmt"
	"math/rand"
	"sync"
	"sync/atomic"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"
	"go.uber.org/zap"
)

const (
	firstDialTimeout = 5 * time.Second  // DriverFromConfig: rr's start waits at most this long per pipeline
	dialTimeout      = 10 * time.Second // later redials
	closeTimeout     = 5 * time.Second
	heartbeat        = 10 * time.Second
	backoffMin       = 100 * time.Millisecond
	// a delay/retry queue is declared again when it was last declared longer ago than this
	// (it has x-expires = 2*ttl + 60 s; a declare resets that clock).
	redeclareAfter = 30 * time.Second
)

// session is one connection to the broker with its publishing channel. It dies as a whole:
// when the connection, the publishing channel or a consumer breaks, the connection is closed
// and the redial loop builds a new session (declarations, publisher, consumer).
type session struct {
	conn   *amqp.Connection
	pub    *publisher
	closed chan struct{} // closed when the connection is gone
	err    *amqp.Error   // why (set before closed is closed; nil for a close of our own)

	// blocked is the reason the broker gave for blocking publishers (a memory or disk
	// alarm), "" while not blocked: pushes fail fast instead of hanging on the socket.
	blocked atomic.Pointer[string]

	failOnce sync.Once

	mu       sync.Mutex
	declared map[string]time.Time // delay/retry queues -> last declare
}

// fail drops the connection (the redial loop takes over).
func (s *session) fail() {
	s.failOnce.Do(func() {
		go func() { _ = s.conn.CloseDeadline(time.Now().Add(closeTimeout)) }()
	})
}

func (s *session) isClosed() bool {
	select {
	case <-s.closed:
		return true
	default:
		return false
	}
}

func (d *Driver) dial(timeout time.Duration) (*amqp.Connection, error) {
	props := amqp.NewConnectionProperties()
	props.SetClientConnectionName("rr amqp pipeline " + d.cfg.Name)
	cfg := amqp.Config{
		Heartbeat:  heartbeat,
		Locale:     "en_US",
		Dial:       amqp.DefaultDial(timeout),
		Properties: props,
	}
	if d.tls != nil {
		cfg.TLSClientConfig = d.tls.Clone()
	}
	return amqp.DialConfig(d.addr, cfg)
}

// connect dials and declares the pipeline's exchange, queue, binding and dead-letter queue.
// fatal is true for errors a retry will not fix (the broker refused a declaration: a queue
// that exists with other arguments, a reserved name, no permission).
func (d *Driver) connect(timeout time.Duration) (s *session, fatal bool, err error) {
	conn, err := d.dial(timeout)
	if err != nil {
		return nil, false, fmt.Errorf("dial: %w", err)
	}

	if err := d.declare(conn); err != nil {
		_ = conn.CloseDeadline(time.Now().Add(closeTimeout))
		var aerr *amqp.Error
		return nil, stderrors.As(err, &aerr) && aerr.Server, err
	}

	pub, err := newPublisher(conn)
	if err != nil {
		_ = conn.CloseDeadline(time.Now().Add(closeTimeout))
		return nil, false, fmt.Errorf("opening the publishing channel: %w", err)
	}

	s = &session{conn: conn, pub: pub, closed: make(chan struct{}), declared: make(map[string]time.Time)}

	connClosed := conn.NotifyClose(make(chan *amqp.Error, 1))
	go func() {
		if e, ok := <-connClosed; ok && e != nil {
			s.err = e
		}
		close(s.closed)
	}()

	blockings := conn.NotifyBlocked(make(chan amqp.Blocking, 4))
	go func() {
		for b := range blockings {
			if b.Active {
				reason := b.Reason
				s.blocked.Store(&reason)
				d.log.Warn("the broker blocks publishing (resource alarm)", zap.String("pipeline", d.cfg.Name), zap.String("reason", b.Reason))
			} else {
				s.blocked.Store(nil)
				d.log.Info("the broker unblocked publishing", zap.String("pipeline", d.cfg.Name))
			}
		}
	}()

	pubClosed := pub.ch.NotifyClose(make(chan *amqp.Error, 1))
	go func() {
		if e, ok := <-pubClosed; ok && e != nil && !conn.IsClosed() {
			d.log.Warn("publishing channel closed by the broker; reconnecting", zap.String("pipeline", d.cfg.Name), zap.Error(e))
			s.fail()
		}
	}()

	return s, false, nil
}

func (d *Driver) declare(conn *amqp.Connection) error {
	ch, err := conn.Channel()
	if err != nil {
		return fmt.Errorf("opening a channel: %w", err)
	}
	defer func() { _ = ch.Close() }()

	c := d.cfg
	if len(c.Exchange) > 4 && c.Exchange[:4] == "amq." {
		err = ch.ExchangeDeclarePassive(c.Exchange, c.ExchangeType, true, false, false, false, nil)
	} else {
		err = ch.ExchangeDeclare(c.Exchange, c.ExchangeType, c.ExchangeDurable, c.ExchangeAutoDelete, false, false, nil)
	}
	if err != nil {
		return fmt.Errorf("declaring exchange %q (%s): %w", c.Exchange, c.ExchangeType, err)
	}

	if _, err = ch.QueueDeclare(c.Queue, c.Durable, c.QueueAutoDelete, c.Exclusive, false, c.QueueHeaders); err != nil {
		return fmt.Errorf("declaring queue %q: %w", c.Queue, err)
	}
	if err = ch.QueueBind(c.Queue, c.RoutingKey, c.Exchange, false, nil); err != nil {
		return fmt.Errorf("binding queue %q to exchange %q with routing key %q: %w", c.Queue, c.Exchange, c.RoutingKey, err)
	}
	// the dead-letter queue outlives broker restarts whatever the main queue does: it is where
	// failed jobs wait for a human
	if _, err = ch.QueueDeclare(c.DeadLetterQueue, true, false, false, false, nil); err != nil {
		return fmt.Errorf("declaring dead-letter queue %q: %w", c.DeadLetterQueue, err)
	}
	return nil
}

// ensureQueue declares a delay/retry queue unless this session did so recently.
func (d *Driver) ensureQueue(s *session, name string, args amqp.Table) error {
	s.mu.Lock()
	last, ok := s.declared[name]
	s.mu.Unlock()
	if ok && time.Since(last) < redeclareAfter {
		return nil
	}

	ch, err := s.conn.Channel()
	if err != nil {
		return err
	}
	defer func() { _ = ch.Close() }()
	if _, err := ch.QueueDeclare(name, d.cfg.Durable, false, false, false, args); err != nil {
		return fmt.Errorf("declaring delay queue %q: %w", name, err)
	}

	s.mu.Lock()
	s.declared[name] = time.Now()
	s.mu.Unlock()

	d.mu.Lock()
	d.delayQueues[name] = struct{}{}
	d.mu.Unlock()
	return nil
}

func (s *session) forget(name string) {
	s.mu.Lock()
	delete(s.declared, name)
	s.mu.Unlock()
}

// loop keeps the pipeline connected for as long as the driver lives: when the session dies it
// redials with exponential backoff (100 ms doubling up to redial_timeout, with jitter), forever.
func (d *Driver) loop(s *session) {
	defer close(d.loopDone)

	delay := backoffMin
	for {
		if s != nil {
			select {
			case <-s.closed:
			case <-d.stopCh:
				return
			}
			d.lost(s)
			s = nil
			delay = backoffMin
		}

		select {
		case <-time.After(jitter(delay)):
		case <-d.stopCh:
			return
		}
		delay = min(delay*2, d.cfg.RedialTimeout)

		ns, _, err := d.connect(dialTimeout)
		if err != nil {
			d.noteFailure(err)
			continue
		}
		if !d.install(ns) {
			_ = ns.conn.CloseDeadline(time.Now().Add(closeTimeout))
			return
		}
		s = ns
	}
}

func jitter(d time.Duration) time.Duration {
	return time.Duration(float64(d) * (0.8 + 0.4*rand.Float64())) //nolint:gosec
}

// install makes a new session the current one and restarts consuming if it was on.
func (d *Driver) install(s *session) bool {
	d.opMu.Lock()
	defer d.opMu.Unlock()

	d.mu.Lock()
	if d.stopped {
		d.mu.Unlock()
		return false
	}
	down := d.downSince
	d.sess = s
	d.lastErr = nil
	d.downSince = time.Time{}
	d.failures = 0
	consuming := d.consuming
	d.mu.Unlock()

	fields := []zap.Field{zap.String("pipeline", d.cfg.Name), zap.String("addr", d.addrSafe)}
	if !down.IsZero() {
		fields = append(fields, zap.Duration("was_down", time.Since(down)))
	}
	d.log.Info("connected to the broker", fields...)

	if consuming {
		if err := d.consume(s); err != nil {
			d.log.Error("could not start consuming; reconnecting", zap.String("pipeline", d.cfg.Name), zap.Error(err))
			d.mu.Lock()
			d.lastErr = fmt.Errorf("starting the consumer: %w", err)
			d.mu.Unlock()
			s.fail()
		}
	}
	return true
}

// lost is the end of a session: whatever rr still holds of it is forgotten.
func (d *Driver) lost(s *session) {
	d.opMu.Lock()
	defer d.opMu.Unlock()

	d.mu.Lock()
	if d.sess == s {
		d.sess = nil
		d.downSince = time.Now()
		if s.err != nil {
			d.lastErr = s.err
		} else if d.lastErr == nil {
			d.lastErr = stderrors.New("connection closed")
		}
	}
	if d.cons != nil && d.cons.sess == s {
		d.cons = nil
	}
	for c := range d.consumers {
		if c.sess == s {
			delete(d.consumers, c)
		}
	}
	stopped := d.stopped
	d.mu.Unlock()

	if stopped {
		return
	}
	n := d.dropQueued()
	d.log.Warn("connection to the broker lost; redialling", zap.String("pipeline", d.cfg.Name), zap.String("addr", d.addrSafe),
		zap.NamedError("reason", s.err), zap.Int("queued_jobs_dropped_broker_redelivers", n))
}

func (d *Driver) noteFailure(err error) {
	d.mu.Lock()
	d.lastErr = err
	d.failures++
	n := d.failures
	if d.downSince.IsZero() {
		d.downSince = time.Now()
	}
	d.mu.Unlock()

	// every attempt at debug level, a warning at 1, 2, 4, 8, ... attempts
	if n&(n-1) == 0 {
		d.log.Warn("broker unreachable; redialling", zap.String("pipeline", d.cfg.Name), zap.String("addr", d.addrSafe),
			zap.Int("attempts", n), zap.Error(err))
	} else {
		d.log.Debug("broker unreachable; redialling", zap.String("pipeline", d.cfg.Name), zap.Int("attempts", n), zap.Error(err))
	}
}
