package amqp

import (
	"reflect"
	"testing"

	amqp "github.com/rabbitmq/amqp091-go"
	"github.com/roadrunner-server/api/v4/plugins/v3/jobs"
)

// What one instance publishes, another rebuilds: id, name, headers, priority, auto_ack, delay
// and the attempt count.
func TestPackUnpack(t *testing.T) {
	m := &message{
		id: "job-1", job: "App\\Job", pipeline: "emails",
		headers: map[string][]string{"a": {"1", "2"}, HeaderAttempts: {"99"}, headerRoutingKey: {"rk"}},
		payload: []byte(`{"x":1}`),
		delay:   3, priority: 4, autoAck: true, attempts: 2,
	}
	pub, err := m.publishing()
	if err != nil {
		t.Fatal(err)
	}
	if pub.MessageId != "job-1" || pub.DeliveryMode != amqp.Persistent || pub.Type != "App\\Job" {
		t.Fatalf("%+v", pub)
	}
	if err := pub.Headers.Validate(); err != nil {
		t.Fatal(err)
	}

	it := unpack(amqp.Delivery{Headers: pub.Headers, Body: pub.Body, DeliveryTag: 7, MessageId: pub.MessageId}, "emails-local", "q", 10)
	if it.ID() != "job-1" || it.Name() != "App\\Job" || string(it.Body()) != `{"x":1}` || it.Priority() != 4 ||
		!it.autoAck || it.delay != 3 || it.Attempts() != 2 || it.tag != 7 || it.GroupID() != "emails-local" {
		t.Fatalf("%+v", it)
	}
	want := map[string][]string{"a": {"1", "2"}, HeaderAttempts: {"2"}}
	if !reflect.DeepEqual(it.Headers(), want) {
		t.Fatalf("headers %v, want %v", it.Headers(), want)
	}
}

// A message another application published (no rr_* headers).
func TestUnpackForeign(t *testing.T) {
	it := unpack(amqp.Delivery{
		Headers: amqp.Table{"source": "billing", "n": int32(5), "flag": true},
		Body:    []byte("raw"),
	}, "p", "q", 12)
	if it.Name() != autoJobName || it.Priority() != 12 || it.ID() == "" || it.autoAck {
		t.Fatalf("%+v", it)
	}
	want := map[string][]string{"source": {"billing"}, "n": {"5"}, "flag": {"true"}}
	if !reflect.DeepEqual(it.Headers(), want) {
		t.Fatalf("headers %v", it.Headers())
	}

	it = unpack(amqp.Delivery{MessageId: "mid", Type: "T", Headers: amqp.Table{}}, "p", "q", 12)
	if it.ID() != "mid" || it.Name() != "T" {
		t.Fatalf("%+v", it)
	}
}

// RoadRunner's own amqp driver writes rr_headers as bytes and ints as int64: read both.
func TestUnpackRoadRunnerMessage(t *testing.T) {
	it := unpack(amqp.Delivery{Headers: amqp.Table{
		jobs.RRID: "rid", jobs.RRJob: "J", jobs.RRPipeline: "x", jobs.RRHeaders: []byte(`{"h":["v"]}`),
		jobs.RRDelay: int64(0), jobs.RRPriority: int64(3), jobs.RRAutoAck: false,
	}}, "p", "q", 10)
	if it.ID() != "rid" || it.Name() != "J" || it.Priority() != 3 || !reflect.DeepEqual(it.Headers(), map[string][]string{"h": {"v"}}) {
		t.Fatalf("%+v", it)
	}
}
