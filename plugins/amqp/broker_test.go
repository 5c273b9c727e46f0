package amqp

import (
	"os"
	"testing"
	"time"

	"github.com/pivotphp/pivotphp-runtime-roadrunner/plugins/amqp/amqptest"
	amqp "github.com/rabbitmq/amqp091-go"
)

// The integration tests share one RabbitMQ node (amqptest.Shared: 127.0.0.1, free ports, an
// epmd of its own, everything under a temp dir), started on first use so that the unit tests
// alone do not pay for it, and stopped by TestMain.

func TestMain(m *testing.M) {
	code := m.Run()
	amqptest.ShutdownShared()
	os.Exit(code)
}

// requireBroker returns the shared broker. Without one the test fails when CI=true and is
// skipped otherwise, saying why.
func requireBroker(t *testing.T) *amqptest.Broker {
	t.Helper()
	if testing.Short() {
		t.Skip("integration test (RabbitMQ): skipped with -short")
	}
	b, err := amqptest.Shared()
	if err != nil {
		msg := amqptest.UnavailableMessage(err)
		if os.Getenv("CI") == "true" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	return b
}

// stopApp stops RabbitMQ (its listener and every connection) but keeps the Erlang node, so
// that startApp brings it back in seconds: a broker restart as clients see it.
func stopApp(t *testing.T, r *amqptest.Broker) {
	t.Helper()
	if err := r.StopApp(); err != nil {
		t.Fatal(err)
	}
}

func startApp(t *testing.T, r *amqptest.Broker) {
	t.Helper()
	start := time.Now()
	if err := r.StartApp(); err != nil {
		t.Fatal(err)
	}
	t.Logf("broker back in %s", time.Since(start).Round(time.Millisecond))
}

// raw opens a plain AMQP channel for the test's own inspection.
func raw(t *testing.T, r *amqptest.Broker) *amqp.Channel {
	t.Helper()
	conn, err := r.Dial()
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

func depth(t *testing.T, r *amqptest.Broker, queue string) int {
	t.Helper()
	n, err := r.QueueDepth(queue)
	if err != nil {
		t.Fatal(err)
	}
	return n
}
