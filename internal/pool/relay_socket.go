package pool

import (
	"context"
	stderrors "errors"
	"fmt"
	"io"
	"math"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/roadrunner-server/errors"
	"github.com/roadrunner-server/sdk/v4/fsm"
	sdkpool "github.com/roadrunner-server/sdk/v4/pool"
	"github.com/roadrunner-server/sdk/v4/worker"
	"go.uber.org/zap"
)

// Socket relays: `server.relay: tcp://host:port` or `unix:///path/to.sock`.
//
// The worker connects to the address in RR_RELAY; pivot accepts, sends its pid in a control
// frame and reads the worker's pid back, then pairs the connection with the process it started
// by that pid, as sdk/v4's socket factory does. The connection gets pivot's own relay
// (pipeRelay over the net.Conn), so the request path is the one pipes take.
//
// The server plugin already listens on server.relay itself (in its Init, for the pools it
// creates: the jobs plugin's, for one), and its accept loop would take the connections of
// pivot's workers. So pivot listens on an address of its own next to it and passes that one to
// its workers in RR_RELAY (the env of CmdFactory comes last, so it wins):
//   - tcp://host:port → the same host, a port the kernel picks (loopback when the host is empty
//     or unspecified: the workers are local processes);
//   - unix:///dir/rr.sock → /dir/rr.pivot.sock; a stale file there (no process listening) is
//     removed at start, and the file is removed on stop.

const (
	serverSection = "server"
	relayPipes    = "pipes"
	// EnvRelay tells a worker where to connect (RR_RELAY); see SocketFactory.Relay.
	EnvRelay            = "RR_RELAY"
	defaultRelayTimeout = 60 * time.Second
	// maxUnixPath is sun_path's capacity on Linux without the terminating NUL.
	maxUnixPath = 107
	// exitPoll is how often a spawn that waits for its worker's connection checks whether the
	// worker has exited already.
	exitPoll = 20 * time.Millisecond
)

// RelaySetting is server.relay as pivot uses it; Network is "" for pipes.
type RelaySetting struct {
	Configured string // server.relay as written
	Network    string // "tcp" or "unix"
	Address    string // host:port or the socket path
	Timeout    time.Duration
}

// Configurer reads .rr.yaml sections (the config plugin, as the root package's Configurer).
type Configurer interface {
	UnmarshalKey(name string, out any) error
	Has(name string) bool
}

// ReadRelayConfig reads server.relay and server.relay_timeout (the server plugin's keys).
func ReadRelayConfig(cfg Configurer) (RelaySetting, error) {
	var raw struct {
		Relay        string        `mapstructure:"relay"`
		RelayTimeout time.Duration `mapstructure:"relay_timeout"`
	}
	if cfg.Has(serverSection) {
		if err := cfg.UnmarshalKey(serverSection, &raw); err != nil {
			return RelaySetting{}, errors.Errorf("server.relay / server.relay_timeout cannot be read: %v", err)
		}
	}
	rs, err := parseRelay(raw.Relay)
	if err != nil {
		return RelaySetting{}, err
	}
	rs.Timeout = raw.RelayTimeout
	if rs.Timeout <= 0 {
		rs.Timeout = defaultRelayTimeout
	}
	return rs, nil
}

// parseRelay accepts what the server plugin accepts: empty or "pipes" ("pipe" too),
// tcp://host:port and unix://path.
func parseRelay(value string) (RelaySetting, error) {
	rs := RelaySetting{Configured: value}
	unsupported := func(why string) (RelaySetting, error) {
		return RelaySetting{}, errors.Errorf(`server.relay %q %s: pivot's workers talk over "pipes" (the default), "tcp://host:port" or "unix:///path/to.sock"`, value, why)
	}
	switch {
	case value == "" || value == relayPipes || value == "pipe":
		return rs, nil
	case strings.HasPrefix(value, "tcp://"):
		host, port, err := net.SplitHostPort(strings.TrimPrefix(value, "tcp://"))
		if err != nil {
			return unsupported(fmt.Sprintf("is not a tcp address (%v)", err))
		}
		if _, err = net.LookupPort("tcp", port); err != nil {
			return unsupported("has no valid port")
		}
		rs.Network, rs.Address = "tcp", net.JoinHostPort(host, port)
		return rs, nil
	case strings.HasPrefix(value, "unix://"):
		path := strings.TrimPrefix(value, "unix://")
		if path == "" {
			return unsupported("has no socket path")
		}
		rs.Network, rs.Address = "unix", path
		return rs, nil
	}
	return unsupported("is not supported")
}

// pivotAddress is the address pivot listens on for its own workers (see the top of the file).
func (rs RelaySetting) pivotAddress() (string, error) {
	switch rs.Network {
	case "tcp":
		host, _, _ := net.SplitHostPort(rs.Address)
		if ip := net.ParseIP(host); host == "" || (ip != nil && ip.IsUnspecified()) {
			host = "127.0.0.1"
			if ip != nil && ip.To4() == nil {
				host = "::1"
			}
		}
		return net.JoinHostPort(host, "0"), nil
	case "unix":
		path, err := filepath.Abs(rs.Address)
		if err != nil {
			return "", errors.Errorf("server.relay %q: %v", rs.Configured, err)
		}
		ext := filepath.Ext(path)
		path = strings.TrimSuffix(path, ext) + ".pivot" + ext
		if len(path) > maxUnixPath {
			return "", errors.Errorf("server.relay %q: pivot's own socket %s would be longer than the %d bytes a unix socket path may have; use a shorter path",
				rs.Configured, path, maxUnixPath)
		}
		return path, nil
	}
	return "", nil
}

// SocketFactory spawns workers that connect over a socket; it lives as long as the plugin
// serves and is shared by every generation of workers.
type SocketFactory struct {
	log     *zap.Logger
	stderr  StderrSink // SetStderr; nil: sdk/v4 logs the workers' stderr
	ln      net.Listener
	relay   string // RR_RELAY for pivot's workers: the listener's address
	setting RelaySetting

	mu sync.Mutex
	// waiting are the spawns waiting for their worker's connection, by pid; early are
	// connections that completed the handshake before their spawn was waiting for them.
	waiting map[int64]chan *pipeRelay
	early   map[int64]*pipeRelay
	// stranger is the pid of the last connection no spawn of pivot's claimed, for the timeout
	// message (a wrapper script that forks PHP reports another pid than the one pivot started).
	stranger atomic.Int64

	closed    chan struct{}
	closeOnce sync.Once
	accepting sync.WaitGroup
}

var _ sdkpool.Factory = (*SocketFactory)(nil)

// NewSocketFactory listens on pivot's own address for rs and starts accepting workers. uid and
// gid (server.user) own a unix socket, so workers running as that user may connect.
func NewSocketFactory(rs RelaySetting, uid, gid int, log *zap.Logger) (*SocketFactory, error) {
	addr, err := rs.pivotAddress()
	if err != nil {
		return nil, err
	}
	var ln net.Listener
	switch rs.Network {
	case "tcp":
		ln, err = net.Listen("tcp", addr)
	case "unix":
		ln, err = listenUnix(addr)
	default:
		return nil, errors.Errorf("server.relay %q is not a socket relay", rs.Configured)
	}
	if err != nil {
		return nil, errors.Errorf("server.relay %q: pivot cannot listen for its workers on %s: %v", rs.Configured, addr, err)
	}
	f := &SocketFactory{
		log:     log,
		ln:      ln,
		setting: rs,
		waiting: map[int64]chan *pipeRelay{},
		early:   map[int64]*pipeRelay{},
		closed:  make(chan struct{}),
	}
	if rs.Network == "unix" {
		f.relay = "unix://" + addr
		if uid > 0 {
			if err := os.Chown(addr, uid, gid); err != nil {
				log.Warn("the relay socket cannot be given to server.user; workers running as that user may not connect", zap.String("socket", addr), zap.Error(err))
			}
		}
	} else {
		f.relay = "tcp://" + ln.Addr().String()
	}
	f.accepting.Add(1)
	go f.accept()
	log.Info("pivot's workers connect over a socket", zap.String("RR_RELAY", f.relay),
		zap.String("server.relay", rs.Configured), zap.Duration("relay_timeout", rs.Timeout))
	return f, nil
}

// Relay is RR_RELAY for pivot's workers: the address of pivot's own listener.
func (f *SocketFactory) Relay() string { return f.relay }

// listenUnix listens on path, removing a stale socket file first (one no process listens on).
// Another file, or a socket a live process listens on, is left alone: that is an error.
func listenUnix(path string) (net.Listener, error) {
	if fi, err := os.Lstat(path); err == nil {
		if fi.Mode()&os.ModeSocket == 0 {
			return nil, errors.Errorf("%s exists and is not a socket", path)
		}
		if c, err := net.DialTimeout("unix", path, time.Second); err == nil {
			_ = c.Close()
			return nil, errors.Errorf("%s is in use: another process listens on it (another RoadRunner with the same server.relay?)", path)
		}
		if err := os.Remove(path); err != nil && !os.IsNotExist(err) {
			return nil, errors.Errorf("stale socket %s cannot be removed: %v", path, err)
		}
	}
	return net.Listen("unix", path) // the listener removes the file when it is closed
}

// accept takes the workers' connections until the factory is closed.
func (f *SocketFactory) accept() {
	defer f.accepting.Done()
	var backoff time.Duration
	for {
		c, err := f.ln.Accept()
		if err != nil {
			select {
			case <-f.closed:
				return
			default:
			}
			// out of file descriptors and the like: back off as net/http does
			backoff = min(max(2*backoff, 5*time.Millisecond), time.Second)
			f.log.Error("accepting a worker's connection", zap.String("RR_RELAY", f.relay), zap.Error(err), zap.Duration("retry_in", backoff))
			select {
			case <-f.closed:
				return
			case <-time.After(backoff):
			}
			continue
		}
		backoff = 0
		go f.admit(c)
	}
}

// admit performs the pid handshake on a new connection (RoadRunner sends its pid, the worker
// answers with its own) and hands the relay to the spawn waiting for that pid.
func (f *SocketFactory) admit(c net.Conn) {
	rl := newSocketRelay(c)
	err := c.SetDeadline(time.Now().Add(f.setting.Timeout))
	var pid int
	if err == nil {
		// the worker's pid names the process the connection belongs to
		pid, err = handshake(rl)
	}
	if err == nil {
		err = c.SetDeadline(time.Time{})
	}
	if err != nil {
		f.log.Warn("a connection to pivot's relay failed the pid handshake and was closed", zap.String("RR_RELAY", f.relay),
			zap.String("remote", c.RemoteAddr().String()), zap.Error(err))
		_ = c.Close()
		return
	}
	key := int64(pid)
	f.mu.Lock()
	defer f.mu.Unlock()
	select {
	case <-f.closed:
		_ = c.Close()
		return
	default:
	}
	if ch, ok := f.waiting[key]; ok {
		delete(f.waiting, key)
		ch <- rl // buffered; sent under the lock so that a spawn giving up finds it
		return
	}
	// the worker was quicker than its spawn, or it is no worker of pivot's: keep it for the
	// relay timeout
	if old := f.early[key]; old != nil {
		_ = old.src.Close()
	}
	f.early[key] = rl
	time.AfterFunc(f.setting.Timeout, func() {
		f.mu.Lock()
		unclaimed := f.early[key] == rl
		if unclaimed {
			delete(f.early, key)
		}
		f.mu.Unlock()
		if unclaimed {
			f.stranger.Store(key)
			f.log.Warn("a connection to pivot's relay reported a pid pivot did not start; closed", zap.String("RR_RELAY", f.relay), zap.Int("pid", pid))
			_ = c.Close()
		}
	})
}

// SpawnWorker starts a worker and waits up to server.relay_timeout for its connection.
func (f *SocketFactory) SpawnWorker(cmd *exec.Cmd) (*worker.Process, error) {
	return f.SpawnWorkerWithTimeout(context.Background(), cmd)
}

// SpawnWorkerWithTimeout starts a worker and waits for its connection until ctx ends or
// server.relay_timeout passes; a worker that has not connected by then is killed.
func (f *SocketFactory) SpawnWorkerWithTimeout(ctx context.Context, cmd *exec.Cmd) (*worker.Process, error) {
	const op = errors.Op("pivot_spawn_worker")
	if cmd == nil {
		return nil, errors.E(op, errors.Str("no worker command (check server.command, server.user)"))
	}
	w, err := worker.InitBaseWorker(cmd, worker.WithLog(f.log))
	if err != nil {
		return nil, errors.E(op, err)
	}
	errR, errW, err := takeStderr(f.stderr, cmd)
	if err != nil {
		return nil, errors.E(op, err)
	}
	// STDOUT is not the relay: log what the worker prints there as its STDERR is (PHP's
	// "Could not open input file" goes there). Our own pipe, so that Wait neither closes it
	// under the reader nor waits for it.
	out, outW, err := os.Pipe()
	if err != nil {
		closeFiles(errR, errW)
		return nil, errors.E(op, err)
	}
	cmd.Stdout = outW
	err = w.Start()
	_ = outW.Close() // the worker has its copy
	closeFiles(errW)
	if err != nil {
		_ = out.Close()
		closeFiles(errR)
		return nil, errors.E(op, err)
	}
	var tap StderrTap
	if errR != nil {
		tap = f.stderr.Watch(w.Pid(), errR)
	}
	go func() {
		_, _ = io.Copy(w, out) // w.Write logs each chunk
		_ = out.Close()
	}()
	rl, err := f.await(ctx, w.Pid())
	if err != nil {
		_ = w.Kill()
		go func() { _ = w.Wait() }()
		return nil, errors.E(op, err)
	}
	rl.tap = tap
	w.AttachRelay(rl)
	w.State().Transition(fsm.StateReady)
	return w, nil
}

// SetStderr sends the stderr of the workers spawned from now on to sink.
func (f *SocketFactory) SetStderr(sink StderrSink) { f.stderr = sink }

// await waits for the connection of the worker with pid.
func (f *SocketFactory) await(ctx context.Context, pid int64) (*pipeRelay, error) {
	ch := make(chan *pipeRelay, 1)
	f.mu.Lock()
	select {
	case <-f.closed:
		f.mu.Unlock()
		return nil, errors.Str("pivot's relay is closed (RoadRunner is stopping)")
	default:
	}
	if rl := f.early[pid]; rl != nil {
		delete(f.early, pid)
		f.mu.Unlock()
		return rl, nil
	}
	f.waiting[pid] = ch
	f.mu.Unlock()

	giveUp := func(err error) (*pipeRelay, error) {
		f.mu.Lock()
		delete(f.waiting, pid)
		f.mu.Unlock()
		select {
		case rl := <-ch: // connected just now
			_ = rl.src.Close()
		default:
		}
		return nil, err
	}
	timeout := time.NewTimer(f.setting.Timeout)
	defer timeout.Stop()
	poll := time.NewTicker(exitPoll)
	defer poll.Stop()
	for {
		select {
		case rl := <-ch:
			return rl, nil
		case <-poll.C:
			if processExited(int(pid)) {
				return giveUp(errors.Errorf("the worker (pid %d) exited before it connected to %s (RR_RELAY, for server.relay %q); its output is logged above",
					pid, f.relay, f.setting.Configured))
			}
		case <-timeout.C:
			return giveUp(f.notConnected(pid, fmt.Sprintf("server.relay_timeout (%s)", f.setting.Timeout)))
		case <-ctx.Done():
			if stderrors.Is(ctx.Err(), context.DeadlineExceeded) {
				return giveUp(f.notConnected(pid, "pivot.pool.allocate_timeout"))
			}
			return giveUp(errors.E(errors.TimeOut, errors.Str("the pool stopped while its worker was connecting")))
		case <-f.closed:
			return giveUp(errors.Str("pivot's relay is closed (RoadRunner is stopping)"))
		}
	}
}

func (f *SocketFactory) notConnected(pid int64, limit string) error {
	msg := fmt.Sprintf("the worker (pid %d) did not connect to %s (RR_RELAY, for server.relay %q) and answer the pid handshake within %s",
		pid, f.relay, f.setting.Configured, limit)
	var others []string
	f.mu.Lock()
	for p := range f.early {
		others = append(others, fmt.Sprint(p))
	}
	f.mu.Unlock()
	if s := f.stranger.Load(); s != 0 && len(others) == 0 {
		others = append(others, fmt.Sprint(s))
	}
	if len(others) > 0 {
		msg += fmt.Sprintf("; connections reported pids pivot did not start (%s): a worker must report its own pid, so server.command must not start PHP through a wrapper that forks",
			strings.Join(others, ", "))
	}
	return errors.Str(msg)
}

// Close stops accepting workers; the connections of running workers stay open. A unix
// socket's file is removed.
func (f *SocketFactory) Close() error {
	var err error
	f.closeOnce.Do(func() {
		f.mu.Lock()
		close(f.closed)
		for pid, rl := range f.early {
			_ = rl.src.Close()
			delete(f.early, pid)
		}
		f.mu.Unlock()
		err = f.ln.Close()
		f.accepting.Wait()
	})
	return err
}

// relayConn is a worker's connection as the relay reads it: it notes when the worker closed
// its end with input unread (ECONNRESET, on TCP and Unix sockets alike).
type relayConn struct {
	net.Conn
	reset atomic.Bool
}

func (c *relayConn) Read(b []byte) (int, error) {
	n, err := c.Conn.Read(b)
	if err != nil && stderrors.Is(err, syscall.ECONNRESET) {
		c.reset.Store(true)
	}
	return n, err
}

// relayConnWriter is the relay's write side: closing it shuts the connection down for
// writing only, as closing a worker's stdin does (the worker sees EOF; its last answer can
// still be read). The relay closes the connection itself shortly after (closeGrace).
type relayConnWriter struct{ c net.Conn }

func (w relayConnWriter) Write(b []byte) (int, error) { return w.c.Write(b) }

func (w relayConnWriter) Close() error {
	if cw, ok := w.c.(interface{ CloseWrite() error }); ok {
		return cw.CloseWrite()
	}
	return w.c.Close()
}

// newSocketRelay is pivot's relay over a worker's connection; it has no stdin probe.
func newSocketRelay(c net.Conn) *pipeRelay {
	return newPipeRelay(&relayConn{Conn: c}, relayConnWriter{c: c})
}

// socketUnread is unreadInput for a socket relay: a worker that closed its connection with
// input unread (ECONNRESET) had not read the last request whole, since the last request is what
// was written last — unless another one is queued behind it (pivot.pipeline), whose bytes may
// be the unread ones. -1 is "unknown", as for a relay without a probe.
func (r *pipeRelay) socketUnread() int {
	c, ok := r.src.(*relayConn)
	if !ok || !c.reset.Load() || r.slot.state.Load() == slotQueued {
		return -1
	}
	return math.MaxInt32
}
