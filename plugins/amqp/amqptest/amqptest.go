// Package amqptest starts a real RabbitMQ broker for tests, as net/http/httptest starts an
// HTTP server: on 127.0.0.1, on free ports (AMQP, AMQPS, Erlang distribution and an epmd of
// its own), with every file under a temporary directory, and no system service involved.
//
//	b, err := amqptest.Start(amqptest.Options{})
//	if err != nil { ... }            // RabbitMQ missing or not starting: the error says why
//	defer b.Shutdown()
//	conn, err := amqp091.Dial(b.Addr) // amqp://guest:guest@127.0.0.1:PORT/
//
// Test binaries that need one broker for all their tests use Shared (started on first use)
// and call ShutdownShared from TestMain. A watchdog process kills the broker (its process
// group and its epmd) and removes its directory when the process that started it dies without
// calling Shutdown (a panic, go test's -timeout, SIGKILL), so no broker outlives its test.
//
// The broker is Debian's rabbitmq-server (/usr/lib/rabbitmq/bin). When it is missing, Start
// runs the repository's scripts/install-rabbitmq.sh unless Options.NoInstall or
// AMQP_TEST_NO_INSTALL is set. A broker restart as clients see it is StopApp then StartApp
// (rabbitmqctl stop_app / start_app: every connection drops and the listener closes, the
// Erlang node stays, so the restart takes seconds); durable queues and persistent messages
// survive it, transient queues do not.
package amqptest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"
)

// DefaultBinDir is where Debian's rabbitmq-server package installs rabbitmq-server and
// rabbitmqctl.
const DefaultBinDir = "/usr/lib/rabbitmq/bin"

// EnvNoInstall, when set, forbids Start to install RabbitMQ.
const EnvNoInstall = "AMQP_TEST_NO_INSTALL"

// Options shape the broker. The zero value is a broker with an AMQPS listener, installed if
// missing, given 90 s to start.
type Options struct {
	// NoTLS leaves out the amqps:// listener and its certificates.
	NoTLS bool
	// NoInstall forbids running the install script when rabbitmq-server is missing (as
	// AMQP_TEST_NO_INSTALL does).
	NoInstall bool
	// InstallScript installs RabbitMQ; default: scripts/install-rabbitmq.sh of the repository
	// this package's source is in.
	InstallScript string
	// BinDir holds rabbitmq-server and rabbitmqctl; default DefaultBinDir.
	BinDir string
	// StartTimeout bounds the wait for the first AMQP handshake; default 90 s.
	StartTimeout time.Duration
}

// Broker is one running RabbitMQ node. Its fields are set by Start and read-only.
type Broker struct {
	// Addr is amqp://guest:guest@127.0.0.1:Port/.
	Addr string
	Port int
	// TLSAddr is amqps://guest:guest@127.0.0.1:TLSPort/ (empty with Options.NoTLS). The broker
	// requires a client certificate: ClientCert and ClientKey, signed by CACert, which also
	// signed the broker's certificate (127.0.0.1 and localhost).
	TLSAddr                       string
	TLSPort                       int
	CACert, ClientCert, ClientKey string
	// Dir holds the node's files (config, data, logs, certificates); removed by Shutdown.
	Dir string

	bin      string
	env      []string
	cmd      *exec.Cmd
	done     chan struct{}
	log      string
	watchdog *exec.Cmd
	stopOnce sync.Once
}

// Start installs RabbitMQ if it is missing (see Options), starts a node and returns once it
// accepts AMQP connections. The error says why there is no broker (not installed and not
// installable, failed to start: with the tail of its log).
func Start(o Options) (*Broker, error) {
	if o.BinDir == "" {
		o.BinDir = DefaultBinDir
	}
	if o.StartTimeout == 0 {
		o.StartTimeout = 90 * time.Second
	}
	if err := install(o); err != nil {
		return nil, err
	}

	dir, err := os.MkdirTemp("", "pivot-rabbit-")
	if err != nil {
		return nil, err
	}
	b := &Broker{Dir: dir, bin: o.BinDir, done: make(chan struct{})}
	ok := false
	defer func() {
		if !ok {
			_ = os.RemoveAll(dir)
		}
	}()

	var ports [4]int
	for i := range ports {
		if ports[i], err = freePort(); err != nil {
			return nil, err
		}
	}
	dist, epmd := ports[1], ports[2]
	b.Port = ports[0]
	b.Addr = fmt.Sprintf("amqp://guest:guest@127.0.0.1:%d/", b.Port)

	conf := fmt.Sprintf("listeners.tcp.default = 127.0.0.1:%d\nlog.console = false\nlog.file.level = warning\n"+
		"disk_free_limit.absolute = 1MB\n", b.Port)
	if !o.NoTLS {
		if err := writeTestPKI(dir); err != nil {
			return nil, fmt.Errorf("certificates: %w", err)
		}
		b.TLSPort = ports[3]
		b.TLSAddr = fmt.Sprintf("amqps://guest:guest@127.0.0.1:%d/", b.TLSPort)
		b.CACert, b.ClientCert, b.ClientKey = filepath.Join(dir, "ca.pem"), filepath.Join(dir, "client.pem"), filepath.Join(dir, "client-key.pem")
		conf += fmt.Sprintf("listeners.ssl.default = 127.0.0.1:%d\n"+
			"ssl_options.cacertfile = %s\nssl_options.certfile = %s\nssl_options.keyfile = %s\n"+
			"ssl_options.verify = verify_peer\nssl_options.fail_if_no_peer_cert = true\n",
			b.TLSPort, b.CACert, filepath.Join(dir, "server.pem"), filepath.Join(dir, "server-key.pem"))
	}
	files := map[string]string{
		"rabbitmq.conf":     conf,
		"enabled_plugins":   "[].\n",
		"rabbitmq-env.conf": "",
	}
	for name, content := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o600); err != nil {
			return nil, err
		}
	}

	b.env = append(os.Environ(),
		"HOME="+dir, // the Erlang cookie
		"RABBITMQ_NODENAME=pivot-test-"+randomID()+"@localhost",
		"RABBITMQ_NODE_IP_ADDRESS=127.0.0.1",
		"RABBITMQ_NODE_PORT="+strconv.Itoa(b.Port),
		"RABBITMQ_DIST_PORT="+strconv.Itoa(dist),
		"ERL_EPMD_ADDRESS=127.0.0.1",
		"ERL_EPMD_PORT="+strconv.Itoa(epmd),
		"RABBITMQ_MNESIA_BASE="+filepath.Join(dir, "mnesia"),
		"RABBITMQ_LOG_BASE="+filepath.Join(dir, "log"),
		"RABBITMQ_CONFIG_FILE="+filepath.Join(dir, "rabbitmq.conf"),
		"RABBITMQ_ADVANCED_CONFIG_FILE="+filepath.Join(dir, "advanced.config"),
		"RABBITMQ_CONF_ENV_FILE="+filepath.Join(dir, "rabbitmq-env.conf"),
		"RABBITMQ_ENABLED_PLUGINS_FILE="+filepath.Join(dir, "enabled_plugins"),
		"RABBITMQ_PID_FILE="+filepath.Join(dir, "rabbit.pid"),
	)

	b.log = filepath.Join(dir, "server.out")
	out, err := os.Create(b.log)
	if err != nil {
		return nil, err
	}
	b.cmd = exec.Command(filepath.Join(o.BinDir, "rabbitmq-server"))
	b.cmd.Env = b.env
	b.cmd.Dir = dir
	b.cmd.Stdout, b.cmd.Stderr = out, out
	b.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := b.cmd.Start(); err != nil {
		_ = out.Close()
		return nil, fmt.Errorf("starting rabbitmq-server: %w", err)
	}
	go func() {
		_ = b.cmd.Wait()
		_ = out.Close()
		close(b.done)
	}()

	// If this process dies without calling Shutdown, a watchdog outside it kills the broker's
	// process group and its epmd, and removes the dir.
	b.watchdog = exec.Command("sh", "-c", fmt.Sprintf(
		"while kill -0 %d 2>/dev/null; do sleep 1; done; kill -KILL -%d 2>/dev/null; sleep 2; epmd -kill >/dev/null 2>&1; rm -rf '%s'",
		os.Getpid(), b.cmd.Process.Pid, dir))
	b.watchdog.Env = b.env
	b.watchdog.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if err := b.watchdog.Start(); err == nil {
		go func() { _ = b.watchdog.Wait() }()
	} else {
		b.watchdog = nil
	}

	ok = true
	if err := b.waitUp(o.StartTimeout); err != nil {
		b.Shutdown()
		return nil, err
	}
	return b, nil
}

var (
	sharedMu      sync.Mutex
	sharedStarted bool
	shared        *Broker
	sharedErr     error
)

// Shared is this process's broker, started (with the zero Options) on the first call; later
// calls return the same broker, or the same error. ShutdownShared stops it (call it from
// TestMain after m.Run; the watchdog covers a process that dies first).
func Shared() (*Broker, error) {
	sharedMu.Lock()
	defer sharedMu.Unlock()
	if !sharedStarted {
		sharedStarted = true
		start := time.Now()
		shared, sharedErr = Start(Options{})
		if sharedErr == nil {
			fmt.Fprintf(os.Stderr, "amqptest: RabbitMQ up on %s in %s\n", shared.Addr, time.Since(start).Round(time.Millisecond))
		}
	}
	return shared, sharedErr
}

// ShutdownShared stops the broker Shared started, if it did; a no-op otherwise.
func ShutdownShared() {
	sharedMu.Lock()
	b := shared
	sharedMu.Unlock()
	if b != nil {
		b.Shutdown()
	}
}

// UnavailableMessage is what a test says when Start or Shared failed with err: why, and how to
// install RabbitMQ.
func UnavailableMessage(err error) string {
	return fmt.Sprintf("RabbitMQ is not available for this test: %v (install it with scripts/install-rabbitmq.sh, "+
		"or make deps-test)", err)
}

// StopApp stops RabbitMQ on the node (rabbitmqctl stop_app): the listeners close and every
// connection drops. With StartApp after it, a broker restart as clients see it.
func (b *Broker) StopApp() error { return b.Ctl("stop_app") }

// StartApp starts RabbitMQ again after StopApp and returns once it accepts AMQP connections.
func (b *Broker) StartApp() error {
	if err := b.Ctl("start_app"); err != nil {
		return err
	}
	return b.waitUp(60 * time.Second)
}

// Ctl runs rabbitmqctl against this node (e.g. "set_vm_memory_high_watermark", "0.4").
func (b *Broker) Ctl(args ...string) error {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, filepath.Join(b.bin, "rabbitmqctl"), args...)
	cmd.Env = b.env
	cmd.Dir = b.Dir
	out, err := cmd.CombinedOutput()
	if err != nil {
		return fmt.Errorf("rabbitmqctl %s: %w: %s", strings.Join(args, " "), err, strings.TrimSpace(string(out)))
	}
	return nil
}

// Dial opens a plain AMQP connection to the broker.
func (b *Broker) Dial() (*amqp.Connection, error) {
	return amqp.DialConfig(b.Addr, amqp.Config{Dial: amqp.DefaultDial(5 * time.Second)})
}

// QueueDepth is the number of messages ready in queue (a passive declare on a connection of
// its own); an error when the queue does not exist or the broker is down.
func (b *Broker) QueueDepth(queue string) (int, error) {
	conn, err := b.Dial()
	if err != nil {
		return 0, err
	}
	defer func() { _ = conn.Close() }()
	ch, err := conn.Channel()
	if err != nil {
		return 0, err
	}
	q, err := ch.QueueDeclarePassive(queue, false, false, false, false, nil)
	if err != nil {
		return 0, fmt.Errorf("inspecting queue %s: %w", queue, err)
	}
	return q.Messages, nil
}

// Pid is the process id of the node's rabbitmq-server (the leader of its process group: the
// Erlang VM runs under it), e.g. to read its CPU time.
func (b *Broker) Pid() int { return b.cmd.Process.Pid }

// LogTail is the end of the node's console output (for error messages).
func (b *Broker) LogTail() string {
	data, _ := os.ReadFile(b.log)
	s := strings.TrimSpace(string(data))
	if len(s) > 2000 {
		s = s[len(s)-2000:]
	}
	return s
}

// Shutdown stops the node (rabbitmqctl shutdown, then SIGKILL to its process group and its
// epmd) and removes its directory. Safe to call more than once.
func (b *Broker) Shutdown() {
	b.stopOnce.Do(func() {
		select {
		case <-b.done:
		default:
			_ = b.Ctl("shutdown")
			select {
			case <-b.done:
			case <-time.After(15 * time.Second):
			}
		}
		if b.cmd != nil && b.cmd.Process != nil {
			_ = syscall.Kill(-b.cmd.Process.Pid, syscall.SIGKILL)
		}
		// the node started an epmd of its own, on the port in b.env
		kill := exec.Command("epmd", "-kill")
		kill.Env = b.env
		_ = kill.Run()
		_ = os.RemoveAll(b.Dir)
		if b.watchdog != nil && b.watchdog.Process != nil {
			_ = b.watchdog.Process.Kill()
		}
	})
}

// waitUp waits until the broker answers an AMQP handshake.
func (b *Broker) waitUp(timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		select {
		case <-b.done:
			return fmt.Errorf("rabbitmq-server exited: %s", b.LogTail())
		default:
		}
		conn, err := amqp.DialConfig(b.Addr, amqp.Config{Dial: amqp.DefaultDial(time.Second)})
		if err == nil {
			_ = conn.Close()
			return nil
		}
		time.Sleep(200 * time.Millisecond)
	}
	return fmt.Errorf("rabbitmq-server did not accept AMQP connections on 127.0.0.1:%d within %s: %s", b.Port, timeout, b.LogTail())
}

func install(o Options) error {
	server := filepath.Join(o.BinDir, "rabbitmq-server")
	if _, err := os.Stat(server); err == nil {
		return nil
	}
	if o.NoInstall || os.Getenv(EnvNoInstall) != "" {
		return fmt.Errorf("%s is missing and installing it is off (%s or Options.NoInstall)", server, EnvNoInstall)
	}
	script := o.InstallScript
	if script == "" {
		script = defaultInstallScript()
	}
	if _, err := os.Stat(script); err != nil {
		return fmt.Errorf("%s is missing, and so is the install script: %w", server, err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	out, err := exec.CommandContext(ctx, "bash", script).CombinedOutput()
	if err != nil {
		return fmt.Errorf("%s: %w: %s", script, err, strings.TrimSpace(string(out)))
	}
	if _, err := os.Stat(server); err != nil {
		return fmt.Errorf("%s still missing after %s", server, script)
	}
	return nil
}

// defaultInstallScript is scripts/install-rabbitmq.sh at the root of the repository this file
// is in (plugins/amqp/amqptest/amqptest.go).
func defaultInstallScript() string {
	_, file, _, ok := runtime.Caller(0)
	if !ok {
		return "scripts/install-rabbitmq.sh"
	}
	return filepath.Join(filepath.Dir(file), "..", "..", "..", "scripts", "install-rabbitmq.sh")
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

func randomID() string {
	var b [6]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}
