package amqp

import (
	"context"
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
	"testing"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"
)

// The integration tests share one RabbitMQ node, started on first use (so that the unit tests
// alone do not pay for it) and stopped by TestMain: 127.0.0.1, free ports (AMQP, distribution,
// epmd: an epmd of its own), everything under a temp dir.

const rabbitBin = "/usr/lib/rabbitmq/bin"

type rabbit struct {
	dir     string
	tlsAddr string // amqps://, client certificate required (dir/client.pem, dir/client-key.pem, CA dir/ca.pem)
	env     []string
	port    int
	addr    string
	cmd     *exec.Cmd
	done    chan struct{}
	log     string

	watchdog *exec.Cmd
}

var (
	brokerOnce sync.Once
	broker     *rabbit
	brokerErr  error
)

func TestMain(m *testing.M) {
	code := m.Run()
	if broker != nil {
		broker.shutdown()
	}
	os.Exit(code)
}

// requireBroker returns the shared broker. Without one the test fails when CI=true and is
// skipped otherwise, saying why.
func requireBroker(t *testing.T) *rabbit {
	t.Helper()
	if testing.Short() {
		t.Skip("integration test (RabbitMQ): skipped with -short")
	}
	brokerOnce.Do(func() {
		start := time.Now()
		broker, brokerErr = startRabbit()
		if brokerErr == nil {
			fmt.Fprintf(os.Stderr, "RabbitMQ test broker up on %s in %s\n", broker.addr, time.Since(start).Round(time.Millisecond))
		}
	})
	if brokerErr != nil {
		msg := fmt.Sprintf("RabbitMQ is not available for the integration tests: %v "+
			"(install it with plugins/amqp/scripts/install-rabbitmq.sh)", brokerErr)
		if os.Getenv("CI") == "true" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	return broker
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

func installRabbit() error {
	if _, err := os.Stat(filepath.Join(rabbitBin, "rabbitmq-server")); err == nil {
		return nil
	}
	if os.Getenv("AMQP_TEST_NO_INSTALL") != "" {
		return fmt.Errorf("%s/rabbitmq-server is missing and AMQP_TEST_NO_INSTALL is set", rabbitBin)
	}
	_, file, _, _ := runtime.Caller(0)
	script := filepath.Join(filepath.Dir(file), "scripts", "install-rabbitmq.sh")
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	out, err := exec.CommandContext(ctx, "bash", script).CombinedOutput()
	if err != nil {
		return fmt.Errorf("%s: %w: %s", script, err, strings.TrimSpace(string(out)))
	}
	if _, err := os.Stat(filepath.Join(rabbitBin, "rabbitmq-server")); err != nil {
		return fmt.Errorf("rabbitmq-server still missing after %s", script)
	}
	return nil
}

func startRabbit() (*rabbit, error) {
	if err := installRabbit(); err != nil {
		return nil, err
	}

	dir, err := os.MkdirTemp("", "pivot-rabbit-")
	if err != nil {
		return nil, err
	}
	var ports [4]int
	for i := range ports {
		if ports[i], err = freePort(); err != nil {
			return nil, err
		}
	}
	port, dist, epmd, tlsPort := ports[0], ports[1], ports[2], ports[3]

	// a TLS listener too, with client certificates required (amqps:// tests)
	if err := writeTestPKI(dir); err != nil {
		return nil, err
	}
	conf := fmt.Sprintf("listeners.tcp.default = 127.0.0.1:%d\nlog.console = false\nlog.file.level = warning\n"+
		"disk_free_limit.absolute = 1MB\n"+
		"listeners.ssl.default = 127.0.0.1:%d\n"+
		"ssl_options.cacertfile = %s\nssl_options.certfile = %s\nssl_options.keyfile = %s\n"+
		"ssl_options.verify = verify_peer\nssl_options.fail_if_no_peer_cert = true\n",
		port, tlsPort, filepath.Join(dir, "ca.pem"), filepath.Join(dir, "server.pem"), filepath.Join(dir, "server-key.pem"))
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

	r := &rabbit{dir: dir, port: port, addr: fmt.Sprintf("amqp://guest:guest@127.0.0.1:%d/", port), done: make(chan struct{}),
		tlsAddr: fmt.Sprintf("amqps://guest:guest@127.0.0.1:%d/", tlsPort)}
	r.env = append(os.Environ(),
		"HOME="+dir,
		"RABBITMQ_NODENAME=pivot-test-"+randomID()[:8]+"@localhost",
		"RABBITMQ_NODE_IP_ADDRESS=127.0.0.1",
		"RABBITMQ_NODE_PORT="+strconv.Itoa(port),
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

	r.log = filepath.Join(dir, "server.out")
	out, err := os.Create(r.log)
	if err != nil {
		return nil, err
	}
	r.cmd = exec.Command(filepath.Join(rabbitBin, "rabbitmq-server"))
	r.cmd.Env = r.env
	r.cmd.Dir = dir
	r.cmd.Stdout, r.cmd.Stderr = out, out
	r.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := r.cmd.Start(); err != nil {
		_ = out.Close()
		return nil, fmt.Errorf("starting rabbitmq-server: %w", err)
	}
	go func() {
		_ = r.cmd.Wait()
		_ = out.Close()
		close(r.done)
	}()

	// If this test binary dies without running TestMain's shutdown (a panic, a -timeout), a
	// watchdog outside it kills the broker's process group and its epmd, and removes the dir.
	r.watchdog = exec.Command("sh", "-c", fmt.Sprintf(
		"while kill -0 %d 2>/dev/null; do sleep 1; done; kill -KILL -%d 2>/dev/null; sleep 2; epmd -kill >/dev/null 2>&1; rm -rf '%s'",
		os.Getpid(), r.cmd.Process.Pid, dir))
	r.watchdog.Env = r.env
	r.watchdog.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if err := r.watchdog.Start(); err == nil {
		go func() { _ = r.watchdog.Wait() }()
	} else {
		r.watchdog = nil
	}

	if err := r.waitUp(90 * time.Second); err != nil {
		r.shutdown()
		return nil, err
	}
	return r, nil
}

func (r *rabbit) tail() string {
	b, _ := os.ReadFile(r.log)
	s := strings.TrimSpace(string(b))
	if len(s) > 2000 {
		s = s[len(s)-2000:]
	}
	return s
}

// waitUp waits until the broker answers an AMQP handshake.
func (r *rabbit) waitUp(timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		select {
		case <-r.done:
			return fmt.Errorf("rabbitmq-server exited: %s", r.tail())
		default:
		}
		conn, err := amqp.DialConfig(r.addr, amqp.Config{Dial: amqp.DefaultDial(time.Second)})
		if err == nil {
			_ = conn.Close()
			return nil
		}
		time.Sleep(200 * time.Millisecond)
	}
	return fmt.Errorf("rabbitmq-server did not accept AMQP connections on 127.0.0.1:%d within %s: %s", r.port, timeout, r.tail())
}

func (r *rabbit) ctl(args ...string) error {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, filepath.Join(rabbitBin, "rabbitmqctl"), args...)
	cmd.Env = r.env
	cmd.Dir = r.dir
	out, err := cmd.CombinedOutput()
	if err != nil {
		return fmt.Errorf("rabbitmqctl %s: %w: %s", strings.Join(args, " "), err, strings.TrimSpace(string(out)))
	}
	return nil
}

// stopApp stops RabbitMQ (its listener and every connection) but keeps the Erlang node, so
// that startApp brings it back in seconds: a broker restart as clients see it.
func (r *rabbit) stopApp(t *testing.T) {
	t.Helper()
	if err := r.ctl("stop_app"); err != nil {
		t.Fatal(err)
	}
}

func (r *rabbit) startApp(t *testing.T) {
	t.Helper()
	if err := r.ctl("start_app"); err != nil {
		t.Fatal(err)
	}
	if err := r.waitUp(60 * time.Second); err != nil {
		t.Fatal(err)
	}
}

func (r *rabbit) shutdown() {
	_ = r.ctl("shutdown")
	select {
	case <-r.done:
	case <-time.After(15 * time.Second):
	}
	if r.cmd != nil && r.cmd.Process != nil {
		_ = syscall.Kill(-r.cmd.Process.Pid, syscall.SIGKILL)
	}
	// the node started an epmd of its own on our port
	kill := exec.Command("epmd", "-kill")
	kill.Env = r.env
	_ = kill.Run()
	_ = os.RemoveAll(r.dir)
	if r.watchdog != nil && r.watchdog.Process != nil {
		_ = r.watchdog.Process.Kill()
	}
}

// raw opens a plain AMQP channel for the test's own inspection.
func (r *rabbit) raw(t *testing.T) *amqp.Channel {
	t.Helper()
	conn, err := amqp.Dial(r.addr)
	if err != nil {
		t.Fatal(err)
	}
	ch, err := conn.Channel()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = conn.Close() })
	return ch
}

func (r *rabbit) depth(t *testing.T, queue string) int {
	t.Helper()
	ch := r.raw(t)
	q, err := ch.QueueDeclarePassive(queue, false, false, false, false, nil)
	if err != nil {
		t.Fatalf("inspecting %s: %v", queue, err)
	}
	return q.Messages
}
