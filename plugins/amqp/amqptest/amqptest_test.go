package amqptest

import (
	"context"
	"fmt"
	"net"
	"os"
	"testing"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"
)

func TestMain(m *testing.M) {
	code := m.Run()
	ShutdownShared()
	os.Exit(code)
}

func start(t *testing.T, o Options) *Broker {
	t.Helper()
	if testing.Short() {
		t.Skip("starts RabbitMQ: skipped with -short")
	}
	b, err := Start(o)
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal(UnavailableMessage(err))
		}
		t.Skip(UnavailableMessage(err))
	}
	t.Cleanup(b.Shutdown)
	return b
}

// A broker without TLS: queue depth, a restart as clients see it (a durable queue and its
// persistent message survive it), and a Shutdown that leaves nothing behind.
func TestStartRestartShutdown(t *testing.T) {
	b := start(t, Options{NoTLS: true})
	if b.TLSAddr != "" || b.CACert != "" || b.Addr != fmt.Sprintf("amqp://guest:guest@127.0.0.1:%d/", b.Port) {
		t.Fatalf("broker: %+v", b)
	}
	if _, err := b.QueueDepth("nope"); err == nil {
		t.Fatal("QueueDepth of a missing queue succeeded")
	}

	conn, err := b.Dial()
	if err != nil {
		t.Fatal(err)
	}
	ch, err := conn.Channel()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ch.QueueDeclare("kept", true, false, false, false, nil); err != nil {
		t.Fatal(err)
	}
	if err := ch.PublishWithContext(context.Background(), "", "kept", false, false,
		amqp.Publishing{DeliveryMode: amqp.Persistent, Body: []byte("x")}); err != nil {
		t.Fatal(err)
	}
	waitDepth(t, b, "kept", 1)

	if err := b.StopApp(); err != nil {
		t.Fatal(err)
	}
	select {
	case <-conn.NotifyClose(make(chan *amqp.Error, 1)):
	case <-time.After(10 * time.Second):
		t.Fatal("the client connection survived stop_app")
	}
	if c, err := b.Dial(); err == nil {
		_ = c.Close()
		t.Fatal("Dial succeeded while the app is stopped")
	}
	if err := b.StartApp(); err != nil {
		t.Fatal(err)
	}
	waitDepth(t, b, "kept", 1)

	dir, port := b.Dir, b.Port
	b.Shutdown()
	b.Shutdown() // idempotent
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Fatalf("%s still there after Shutdown: %v", dir, err)
	}
	if c, err := net.DialTimeout("tcp", fmt.Sprintf("127.0.0.1:%d", port), time.Second); err == nil {
		_ = c.Close()
		t.Fatalf("port %d still accepts connections after Shutdown", port)
	}
}

// Shared starts one broker per process; its TLS listener takes the client certificate.
func TestSharedTLS(t *testing.T) {
	if testing.Short() {
		t.Skip("starts RabbitMQ: skipped with -short")
	}
	b, err := Shared()
	if err != nil {
		t.Skip(UnavailableMessage(err))
	}
	again, _ := Shared()
	if again != b {
		t.Fatal("Shared started a second broker")
	}
	for _, f := range []string{b.CACert, b.ClientCert, b.ClientKey} {
		if _, err := os.Stat(f); err != nil {
			t.Fatal(err)
		}
	}
	if b.TLSAddr != fmt.Sprintf("amqps://guest:guest@127.0.0.1:%d/", b.TLSPort) {
		t.Fatalf("TLSAddr %s", b.TLSAddr)
	}
}

func waitDepth(t *testing.T, b *Broker, q string, want int) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		n, err := b.QueueDepth(q)
		if err == nil && n == want {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("depth of %s: %d, %v; want %d", q, n, err, want)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
