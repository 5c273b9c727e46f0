package testsupport

import (
	"os"
	"testing"
	"time"

	"github.com/pivotphp/pivotphp-runtime-roadrunner/plugins/amqp/amqptest"
)

// RabbitMQ is the test binary's RabbitMQ broker (plugins/amqp/amqptest): 127.0.0.1, free
// ports, an epmd of its own, every file under a temporary directory. Addr is
// amqp://guest:guest@127.0.0.1:PORT/; TLSAddr, CACert, ClientCert and ClientKey an amqps://
// listener that requires a client certificate.
type RabbitMQ struct {
	*amqptest.Broker
}

// StartRabbitMQ is the broker every test of this binary shares, started on the first call (5–7
// s) and shut down by Main/Run after the tests (a watchdog kills it if the binary dies first).
// Tests sharing it use queues of their own. Without RabbitMQ (not installed and not
// installable, or failing to start) the test fails when CI=true and is skipped otherwise, with
// the same message saying why.
func StartRabbitMQ(t testing.TB) *RabbitMQ {
	t.Helper()
	b, err := amqptest.Shared()
	if err != nil {
		msg := amqptest.UnavailableMessage(err)
		if os.Getenv("CI") == "true" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	return &RabbitMQ{Broker: b}
}

// StopApp stops RabbitMQ on the node (every connection drops, the listener closes) and
// StartApp brings it back: a broker restart as clients see it. The test's cleanup starts it
// again if the test ends with it stopped, so that the next test finds it up.
func (r *RabbitMQ) StopApp(t testing.TB) {
	t.Helper()
	if err := r.Broker.StopApp(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if c, err := r.Broker.Dial(); err == nil {
			_ = c.Close()
			return
		}
		if err := r.Broker.StartApp(); err != nil {
			t.Errorf("starting RabbitMQ again after the test: %v", err)
		}
	})
}

// StartApp starts RabbitMQ again after StopApp and returns once it accepts AMQP connections.
func (r *RabbitMQ) StartApp(t testing.TB) {
	t.Helper()
	start := time.Now()
	if err := r.Broker.StartApp(); err != nil {
		t.Fatal(err)
	}
	t.Logf("RabbitMQ back in %s", time.Since(start).Round(time.Millisecond))
}

// QueueDepth is the number of messages ready in queue; the test fails when it cannot be read.
func (r *RabbitMQ) QueueDepth(t testing.TB, queue string) int {
	t.Helper()
	n, err := r.Broker.QueueDepth(queue)
	if err != nil {
		t.Fatal(err)
	}
	return n
}
