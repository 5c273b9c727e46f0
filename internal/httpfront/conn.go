package httpfront

import (
	"errors"
	"io"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pivotphp/pivotphp-runtime-roadrunner/internal/http1"
)

// Accepted connections. The server's connections are wrapped for two jobs fasthttp does not do:
//
//   - lingering close: a connection closed after an error response (413, 431, 400) may still
//     have unread request bytes, and closing such a socket makes the kernel send RST, which can
//     destroy the response before the client reads it. So it is half-closed and drained briefly
//     first, as net/http does (closeWriteAndWait).
//   - silent connections on drain: fasthttp counts a connection that has not sent its first
//     request as active, so its graceful shutdown waits for it until read_header_timeout or
//     pivot.shutdown_timeout. Browsers preconnect such sockets and Go's client parks extra
//     dials in its idle pool (golang/go#21204), so a stop could hang for 30 s with nothing in
//     flight. As net/http does, a connection silent for newConnGrace since accept is closed.
const (
	lingerTimeout  = 500 * time.Millisecond
	lingerMaxBytes = 4 << 20

	// newConnGrace is how long a drain waits for an accepted connection's first byte
	// (net/http's Server.Shutdown uses the same 5 s).
	newConnGrace = 5 * time.Second
	// silentSweepEvery is how often the drain looks for silent connections (fasthttp looks
	// for idle ones as often).
	silentSweepEvery = 100 * time.Millisecond
)

// A connection's first-byte state: silent until a read returns data, then talking for good;
// closing when the drain has chosen to close it while it was silent.
const (
	connSilent int32 = iota
	connTalking
	connClosing
)

type connListener struct {
	net.Listener

	mu     sync.Mutex
	silent map[*serverConn]struct{}
	// limits, when set, has every connection's bytes checked before fasthttp reads them
	// (internal/http1): requests with ambiguous or invalid framing never reach the parser.
	limits *http1.Limits
	// h2c, when set, takes the connections that open with HTTP/2's preface (cleartext HTTP/2
	// with prior knowledge, pivot.http2.h2c): see serverConn.sniff.
	h2c func(net.Conn)
}

// checkRequests turns on the strict framing check for the connections accepted from now on.
func (l *connListener) checkRequests(limits http1.Limits) { l.limits = &limits }

func newConnListener(ln net.Listener) *connListener {
	return &connListener{Listener: ln, silent: make(map[*serverConn]struct{})}
}

func (l *connListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	sc := &serverConn{Conn: c, owner: l, accepted: time.Now(), sniffing: l.h2c != nil}
	if l.limits != nil {
		sc.check = http1.New(*l.limits)
	}
	l.mu.Lock()
	l.silent[sc] = struct{}{}
	l.mu.Unlock()
	return sc, nil
}

func (l *connListener) forget(c *serverConn) {
	l.mu.Lock()
	delete(l.silent, c)
	l.mu.Unlock()
}

// closeSilent closes the connections accepted at least grace before now that have not sent
// a byte, and returns how many it closed.
func (l *connListener) closeSilent(now time.Time, grace time.Duration) int {
	closed := 0
	l.mu.Lock()
	defer l.mu.Unlock()
	for c := range l.silent {
		if now.Sub(c.accepted) < grace || !c.state.CompareAndSwap(connSilent, connClosing) {
			continue
		}
		delete(l.silent, c)
		_ = c.Conn.Close() // fasthttp's blocked read ends; it sees a clean EOF (Read)
		closed++
	}
	return closed
}

// closeSilentUntil sweeps silent connections until done is closed: the drain runs it beside
// fasthttp's ShutdownWithContext, which closes the idle keep-alive ones itself.
func (l *connListener) closeSilentUntil(done <-chan struct{}) {
	t := time.NewTicker(silentSweepEvery)
	defer t.Stop()
	for {
		l.closeSilent(time.Now(), newConnGrace)
		select {
		case <-done:
			return
		case <-t.C:
		}
	}
}

type serverConn struct {
	net.Conn
	owner    *connListener
	accepted time.Time
	state    atomic.Int32
	linger   atomic.Bool
	// reads counts the reads that returned data, readsAtResponse its value when the last
	// request's handler returned (interim.go). Both belong to the connection's goroutine.
	reads, readsAtResponse int
	// check sees every byte before fasthttp does; nil when off
	check *http1.Validator
	// sniffing: the first bytes are still to be told HTTP/1.1 or HTTP/2's preface (h2c);
	// handedOff: they were the preface, and the connection is the h2c server's now; sniffed
	// holds bytes read while sniffing that b could not take yet
	sniffing, handedOff bool
	sniffed             []byte
}

// Read marks the connection talking at its first byte. A connection the drain closed while it
// was silent reads as a clean EOF, so fasthttp neither answers it nor logs an error. With the
// framing check on, only the bytes of well-framed requests are returned; at the first byte
// that is not, the read returns the bytes before it, then the check's error (see refused).
func (c *serverConn) Read(b []byte) (int, error) {
	if c.check != nil {
		if verr := c.check.Err(); verr != nil {
			return 0, verr
		}
	}
	var n int
	var err error
	switch {
	case len(c.sniffed) > 0:
		n = copy(b, c.sniffed)
		c.sniffed = c.sniffed[n:]
	case c.sniffing:
		if n, err = c.sniff(b); c.handedOff {
			return 0, io.EOF // fasthttp closes it without a word; Close leaves it open
		}
	default:
		n, err = c.Conn.Read(b)
	}
	if n > 0 {
		c.reads++
		if c.check != nil {
			n = c.checked(b, n)
		}
	}
	if c.state.Load() != connTalking {
		return c.firstRead(n, err)
	}
	return n, err
}

// h2Preface opens every HTTP/2 connection (RFC 9113 §3.4); in cleartext with prior knowledge
// it is the first thing a client sends. As HTTP/1.1 it would be a PRI request, which no
// HTTP/1.1 client sends.
const h2Preface = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"

// sniff reads a connection's first bytes until they are HTTP/2's preface, handed with the
// connection to the h2c server, or something else (at the first byte that differs: an
// HTTP/1.1 request goes on at once), returned into b as if read from the connection.
func (c *serverConn) sniff(b []byte) (int, error) {
	var buf [len(h2Preface)]byte
	got := 0
	var err error
	for {
		var n int
		n, err = c.Conn.Read(buf[got:])
		got += n
		if string(buf[:got]) != h2Preface[:got] || err != nil || got == len(buf) {
			break
		}
	}
	c.sniffing = false
	if got == len(buf) && string(buf[:]) == h2Preface && err == nil {
		if !c.state.CompareAndSwap(connSilent, connTalking) && c.state.Load() != connTalking {
			return 0, io.EOF // the drain closed it meanwhile
		}
		c.owner.forget(c)
		c.handedOff = true
		_ = c.Conn.SetDeadline(time.Time{}) // fasthttp's; the HTTP/2 server sets its own
		go c.owner.h2c(c.Conn)
		return 0, nil
	}
	n := copy(b, buf[:got])
	if n < got {
		c.sniffed = append([]byte(nil), buf[n:got]...)
	}
	return n, err
}

// checked feeds the n bytes read into b to the framing check and returns how many of them
// fasthttp may have.
func (c *serverConn) checked(b []byte, n int) int {
	ok, verr := c.check.Feed(b[:n])
	if verr == nil {
		return n
	}
	if !c.check.Started() {
		// fasthttp closes a keep-alive connection without an answer when a read fails before
		// a byte of the next request: one byte of the refused request cannot complete a head,
		// and makes it answer the refusal (handleProtocolError)
		ok++
	}
	return ok
}

// refused is the framing check's verdict on this connection, if it refused a request.
func (c *serverConn) refused() *http1.Error {
	if c.check == nil {
		return nil
	}
	return c.check.Err()
}

func (c *serverConn) firstRead(n int, err error) (int, error) {
	if n > 0 && c.state.CompareAndSwap(connSilent, connTalking) {
		c.owner.forget(c)
		return n, err
	}
	if c.state.Load() == connClosing {
		return 0, io.EOF
	}
	return n, err
}

// Detach hands the connection to a handler that speaks another protocol on it after an
// HTTP/1.1 upgrade (pivot.broadcast's WebSocket and SSE, internal/realtime's Detacher): the
// framing check stops, and Close no longer closes it; the new owner closes the connection
// returned. Call it from the request's handler (the connection's goroutine).
func (c *serverConn) Detach() net.Conn {
	c.check = nil
	c.handedOff = true
	return c.Conn
}

func (c *serverConn) Close() error {
	if c.handedOff {
		return nil // the h2c server's now
	}
	if c.state.Load() == connSilent {
		c.owner.forget(c)
	}
	tc, ok := c.Conn.(*net.TCPConn)
	if !ok || !c.linger.Load() {
		err := c.Conn.Close()
		if errors.Is(err, net.ErrClosed) && c.state.Load() == connClosing {
			return nil // the drain closed it already
		}
		return err
	}
	_ = tc.CloseWrite()
	go func() {
		_ = tc.SetReadDeadline(time.Now().Add(lingerTimeout))
		_, _ = io.CopyN(io.Discard, tc, lingerMaxBytes)
		_ = tc.Close()
	}()
	return nil
}
