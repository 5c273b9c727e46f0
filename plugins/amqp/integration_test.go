package amqp

import (
	"context"
	"encoding/json"
	"fmt"
	"reflect"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pivotphp/pivotphp-runtime-roadrunner/plugins/amqp/amqptest"
	"github.com/roadrunner-server/api/v4/plugins/v3/jobs"
	jobsImpl "github.com/roadrunner-server/jobs/v4"
)

// rrYAML is a .rr.yaml with one amqp pipeline "p" on queue q; extra is appended to its config.
func rrYAML(r *amqptest.Broker, q, extra string) string {
	return fmt.Sprintf(`version: '3'
amqp:
  addr: %s
jobs:
  pipelines:
    p:
      driver: amqp
      config:
        queue: %s
        redial_timeout: 1
%s`, r.Addr, q, indent(extra))
}

func indent(s string) string {
	if s == "" {
		return ""
	}
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	for i, l := range lines {
		lines[i] = "        " + l
	}
	return strings.Join(lines, "\n") + "\n"
}

// Push returns once the broker confirmed; a consumer rebuilds the very job (id, name,
// payload, headers, priority) and acks it; nothing stays in the queue.
func TestPushConfirmConsume(t *testing.T) {
	r := requireBroker(t)
	q := uniq(t)
	in := newInstance(t, rrYAML(r, q, "durable: true"))
	d := in.driver("p")

	// pushes before consuming: all confirmed, all in the queue
	var wg sync.WaitGroup
	errs := make(chan error, 20)
	for i := 0; i < 20; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			errs <- d.Push(ctx, job("p", fmt.Sprintf("job-%02d", i), func(j *jobsImpl.Job) { j.Options.Priority = int64(1 + i%3) }))
		}(i)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	if n := depth(t, r, q); n != 20 {
		t.Fatalf("queue depth %d after 20 confirmed pushes", n)
	}
	st := state(t, d)
	if st.Active != 20 || st.Ready || st.Pipeline != "p" || st.Driver != "amqp" || st.Queue != q || st.ErrorMessage != "" {
		t.Fatalf("state before Run: %+v", st)
	}

	// batch push: pipelined confirms
	batch := []jobs.Message{job("p", "batch-1"), job("p", "batch-2"), job("p", "batch-3")}
	if err := d.PushBatch(context.Background(), batch); err != nil {
		t.Fatal(err)
	}

	got := newCollector()
	var ackErrs atomic.Int32
	in.work(2, func(it *Item) {
		got.add(it)
		if err := it.Ack(); err != nil {
			ackErrs.Add(1)
			t.Errorf("Ack: %v", err)
		}
	})
	in.run("p")

	eventually(t, 10*time.Second, "23 jobs", func() bool { return got.count() == 23 })
	for i := 0; i < 20; i++ {
		if n := got.ids[fmt.Sprintf("job-%02d", i)]; n != 1 {
			t.Fatalf("job-%02d seen %d times", i, n)
		}
	}
	it := got.items[0]
	ctxJSON, _ := it.Context()
	var c struct {
		ID, Job, Driver, Queue, Pipeline string
		Headers                          map[string][]string
	}
	if err := json.Unmarshal(ctxJSON, &c); err != nil {
		t.Fatal(err)
	}
	if c.Job != "App\\Jobs\\Test" || c.Driver != "amqp" || c.Queue != q || c.Pipeline != "p" || c.ID != it.ID() ||
		!reflect.DeepEqual(c.Headers["x-test"], []string{"yes"}) || string(it.Body()) != "payload-"+it.ID() {
		t.Fatalf("rebuilt job: %s body %q", ctxJSON, it.Body())
	}
	for _, it := range got.items {
		if strings.HasPrefix(it.ID(), "job-") {
			var i int
			fmt.Sscanf(it.ID(), "job-%d", &i)
			if it.Priority() != int64(1+i%3) {
				t.Fatalf("%s priority %d", it.ID(), it.Priority())
			}
		}
	}

	eventually(t, 5*time.Second, "empty queue", func() bool { return depth(t, r, q) == 0 })
	st = state(t, d)
	if !st.Ready || st.Active != 0 || st.Reserved != 0 {
		t.Fatalf("state after: %+v", st)
	}
}

// A push nothing can route (a routing key no queue is bound with) is an error, not a silent
// loss: every publish is mandatory.
func TestPushUnroutable(t *testing.T) {
	r := requireBroker(t)
	q := uniq(t)
	in := newInstance(t, rrYAML(r, q, ""))
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	err := in.driver("p").Push(ctx, job("p", "lost", func(j *jobsImpl.Job) { j.Hdr["x-routing-key"] = []string{"nobody-listens"} }))
	if err == nil || !strings.Contains(err.Error(), `no queue is bound to exchange "amqp.default" with routing key "nobody-listens"`) ||
		!strings.Contains(err.Error(), `amqp pipeline "p"`) {
		t.Fatalf("error %v", err)
	}
}

// A delayed job waits in <queue>.delay.<ms> and reaches the queue after the delay, once.
func TestDelay(t *testing.T) {
	r := requireBroker(t)
	q := uniq(t)
	in := newInstance(t, rrYAML(r, q, ""))
	d := in.driver("p")
	got := newCollector()
	in.work(1, func(it *Item) { got.add(it); _ = it.Ack() })
	in.run("p")

	start := time.Now()
	in.push("p", job("p", "later", withDelay(1)), job("p", "now"))
	if it := got.next(t, 3*time.Second); it.ID() != "now" {
		t.Fatalf("first job %s", it.ID())
	}
	if st := state(t, d); st.Delayed != 1 {
		t.Fatalf("state while delayed: %+v", st)
	}
	if n := depth(t, r, q+".delay.1000"); n != 1 {
		t.Fatalf("delay queue depth %d", n)
	}
	it := got.next(t, 5*time.Second)
	if el := time.Since(start); it.ID() != "later" || el < 900*time.Millisecond {
		t.Fatalf("%s after %s", it.ID(), el)
	}
	got.none(t, 1500*time.Millisecond)
}

// On a fanout exchange a delayed push would reach every bound queue: refused with a clear error.
func TestDelayFanoutRefused(t *testing.T) {
	r := requireBroker(t)
	q := uniq(t)
	in := newInstance(t, rrYAML(r, q, "exchange: "+q+"-fan\nexchange_type: fanout"))
	err := in.driver("p").Push(context.Background(), job("p", "x", withDelay(2)))
	if err == nil || !strings.Contains(err.Error(), "delayed jobs are not supported on a fanout exchange") {
		t.Fatalf("error %v", err)
	}
	in.push("p", job("p", "y")) // without delay: fine
	if n := depth(t, r, q); n != 1 {
		t.Fatalf("depth %d", n)
	}
}

// A job that keeps failing comes back with x-pivot-attempts 1, 2, ... and is moved to
// <queue>.dead after dead_letter_after failures, the same id, headers and payload.
func TestNackAttemptsDeadLetter(t *testing.T) {
	r := requireBroker(t)
	q := uniq(t)
	in := newInstance(t, rrYAML(r, q, "dead_letter_after: 3"))
	got := newCollector()
	in.work(1, func(it *Item) {
		got.add(it)
		if err := it.Nack(); err != nil {
			t.Errorf("Nack: %v", err)
		}
	})
	in.run("p")
	in.push("p", job("p", "poison"))

	for want := int64(0); want < 3; want++ {
		it := got.next(t, 5*time.Second)
		if it.ID() != "poison" || it.Attempts() != want {
			t.Fatalf("delivery %d: %s attempts %d", want, it.ID(), it.Attempts())
		}
		if want > 0 && !reflect.DeepEqual(it.Headers()[HeaderAttempts], []string{fmt.Sprint(want)}) {
			t.Fatalf("headers %v", it.Headers())
		}
	}
	got.none(t, 500*time.Millisecond)

	eventually(t, 5*time.Second, "the dead-letter queue", func() bool { return depth(t, r, q+".dead") == 1 })
	msg, ok, err := raw(t, r).Get(q+".dead", true)
	if err != nil || !ok {
		t.Fatalf("get: %v %v", ok, err)
	}
	if msg.Headers[jobs.RRID] != "poison" || msg.Headers[HeaderAttempts] != int64(3) || string(msg.Body) != "payload-poison" ||
		!strings.Contains(fmt.Sprint(msg.Headers[HeaderDeadReason]), "failed 3 time(s)") {
		t.Fatalf("dead letter: %v %q", msg.Headers, msg.Body)
	}
	if n := depth(t, r, q); n != 0 {
		t.Fatalf("main queue depth %d", n)
	}
}

// Requeue (the worker asks for a retry, with a delay) counts attempts as well and carries the
// new headers; NackWithOptions(false) and requeue_on_fail: false dead-letter at once.
func TestRequeueAndNoRequeue(t *testing.T) {
	r := requireBroker(t)
	q := uniq(t)
	in := newInstance(t, rrYAML(r, q, "dead_letter_after: 5"))
	got := newCollector()
	in.work(1, func(it *Item) {
		got.add(it)
		switch {
		case it.ID() == "retry" && it.Attempts() == 0:
			if err := it.Requeue(map[string][]string{"reason": {"busy"}}, 1); err != nil {
				t.Errorf("Requeue: %v", err)
			}
		case it.ID() == "give-up":
			if err := it.NackWithOptions(false, 0); err != nil {
				t.Errorf("NackWithOptions: %v", err)
			}
		default:
			_ = it.Ack()
		}
	})
	in.run("p")

	start := time.Now()
	in.push("p", job("p", "retry"))
	if it := got.next(t, 3*time.Second); it.Attempts() != 0 {
		t.Fatal(it.Attempts())
	}
	it := got.next(t, 5*time.Second)
	if it.ID() != "retry" || it.Attempts() != 1 || time.Since(start) < 900*time.Millisecond ||
		!reflect.DeepEqual(it.Headers()["reason"], []string{"busy"}) {
		t.Fatalf("requeued: %s attempts %d headers %v after %s", it.ID(), it.Attempts(), it.Headers(), time.Since(start))
	}
	if n := depth(t, r, q+".retry.1000"); n != 0 {
		t.Fatalf("retry queue depth %d", n)
	}

	in.push("p", job("p", "give-up"))
	got.next(t, 3*time.Second)
	eventually(t, 5*time.Second, "dead letter", func() bool { return depth(t, r, q+".dead") == 1 })
	got.none(t, 300*time.Millisecond)

	// requeue_on_fail: false
	q2 := uniq(t)
	in2 := newInstance(t, rrYAML(r, q2, "requeue_on_fail: false"))
	got2 := newCollector()
	in2.work(1, func(it *Item) { got2.add(it); _ = it.Nack() })
	in2.run("p")
	in2.push("p", job("p", "once"))
	got2.next(t, 3*time.Second)
	eventually(t, 5*time.Second, "dead letter", func() bool { return depth(t, r, q2+".dead") == 1 })
	got2.none(t, 300*time.Millisecond)
}

// Two instances (two drivers with their own rr queue and connection) on one queue share the
// work: every job runs once, both get some.
func TestTwoInstancesShareQueue(t *testing.T) {
	r := requireBroker(t)
	q := uniq(t)
	yaml := rrYAML(r, q, "prefetch: 2")
	a, b := newInstance(t, yaml), newInstance(t, yaml)

	all := newCollector()
	var na, nb atomic.Int32
	handler := func(n *atomic.Int32) func(*Item) {
		return func(it *Item) {
			time.Sleep(5 * time.Millisecond)
			n.Add(1)
			all.add(it)
			if err := it.Ack(); err != nil {
				t.Errorf("Ack: %v", err)
			}
		}
	}
	a.work(2, handler(&na))
	b.work(2, handler(&nb))
	a.run("p")
	b.run("p")

	for i := 0; i < 60; i++ {
		in := a
		if i%2 == 1 {
			in = b
		}
		in.push("p", job("p", fmt.Sprintf("shared-%d", i)))
	}
	eventually(t, 15*time.Second, "60 jobs", func() bool { return all.count() == 60 })
	for id, n := range all.ids {
		if n != 1 {
			t.Fatalf("%s ran %d times", id, n)
		}
	}
	if na.Load() == 0 || nb.Load() == 0 {
		t.Fatalf("one instance did all the work: %d / %d", na.Load(), nb.Load())
	}
	t.Logf("instance A ran %d, B ran %d", na.Load(), nb.Load())
}

// Stop cancels the consumer, gives the prefetched jobs no worker started back to the broker and
// lets the running ones finish: their acks succeed.
func TestGracefulStop(t *testing.T) {
	r := requireBroker(t)
	q := uniq(t)
	in := newInstance(t, rrYAML(r, q, "prefetch: 5"))
	d := in.driver("p")
	for i := 0; i < 10; i++ {
		in.push("p", job("p", fmt.Sprintf("g-%d", i)))
	}

	release := make(chan struct{})
	var releaseOnce sync.Once
	started := make(chan *Item, 10)
	var ackErr atomic.Value
	in.work(2, func(it *Item) {
		started <- it
		<-release
		if err := it.Ack(); err != nil {
			ackErr.Store(err)
		}
	})
	t.Cleanup(func() { releaseOnce.Do(func() { close(release) }) }) // before the workers' cleanup
	in.run("p")

	<-started
	<-started
	eventually(t, 5*time.Second, "3 prefetched jobs in rr's queue", func() bool { return in.pq.Len() == 3 })
	if st := state(t, d); st.Reserved != 5 {
		t.Fatalf("reserved %d", st.Reserved)
	}

	stopped := make(chan time.Duration, 1)
	go func() {
		start := time.Now()
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = d.Stop(ctx)
		stopped <- time.Since(start)
	}()

	// the queued ones go back at once, the running ones keep the stop waiting
	eventually(t, 5*time.Second, "prefetched jobs back in the broker", func() bool { return in.pq.Len() == 0 && depth(t, r, q) == 8 })
	select {
	case <-stopped:
		t.Fatal("Stop returned while jobs were running")
	case <-time.After(300 * time.Millisecond):
	}
	releaseOnce.Do(func() { close(release) })
	select {
	case el := <-stopped:
		t.Logf("Stop took %s", el)
	case <-time.After(5 * time.Second):
		t.Fatal("Stop did not return after the running jobs finished")
	}
	if err := ackErr.Load(); err != nil {
		t.Fatalf("ack of a running job during Stop: %v", err)
	}
	if n := depth(t, r, q); n != 8 {
		t.Fatalf("depth %d, want 8 (10 pushed, 2 acked)", n)
	}
	if err := d.Push(context.Background(), job("p", "late")); err == nil || !strings.Contains(err.Error(), "stopped") {
		t.Fatalf("push after stop: %v", err)
	}
}

// Pause returns prefetched jobs and stops consuming; Resume consumes again.
func TestPauseResume(t *testing.T) {
	r := requireBroker(t)
	q := uniq(t)
	in := newInstance(t, rrYAML(r, q, "prefetch: 3"))
	d := in.driver("p")
	for i := 0; i < 5; i++ {
		in.push("p", job("p", fmt.Sprintf("pr-%d", i)))
	}
	in.run("p")
	eventually(t, 5*time.Second, "3 prefetched", func() bool { return in.pq.Len() == 3 })

	if err := d.Pause(context.Background(), "p"); err != nil {
		t.Fatal(err)
	}
	if in.pq.Len() != 0 {
		t.Fatalf("rr queue still holds %d", in.pq.Len())
	}
	eventually(t, 5*time.Second, "all 5 back in the broker", func() bool { return depth(t, r, q) == 5 })
	if st := state(t, d); st.Ready || st.Active != 5 {
		t.Fatalf("paused state %+v", st)
	}
	if err := d.Pause(context.Background(), "p"); err == nil {
		t.Fatal("second Pause: no error")
	}

	got := newCollector()
	in.work(1, func(it *Item) { got.add(it); _ = it.Ack() })
	if err := d.Resume(context.Background(), "p"); err != nil {
		t.Fatal(err)
	}
	eventually(t, 5*time.Second, "5 jobs", func() bool { return got.count() == 5 })
	if st := state(t, d); !st.Ready {
		t.Fatalf("resumed state %+v", st)
	}
}

// With multiple_ack a finished job's ack is held while an earlier delivery is unsettled (an
// ack with multiple=true would settle it too, and lose it if rr died): nothing is lost.
func TestMultipleAckNeverAcksUnfinished(t *testing.T) {
	r := requireBroker(t)
	q := uniq(t)
	in := newInstance(t, rrYAML(r, q, "multiple_ack: true\nprefetch: 3"))
	d := in.driver("p")
	in.push("p", job("p", "m-1"), job("p", "m-2"), job("p", "m-3"))

	items := make(chan *Item, 3)
	in.work(3, func(it *Item) { items <- it })
	in.run("p")
	var its []*Item
	for i := 0; i < 3; i++ {
		select {
		case it := <-items:
			its = append(its, it)
		case <-time.After(5 * time.Second):
			t.Fatal("jobs not delivered")
		}
	}
	last := its[0]
	for _, it := range its {
		if it.tag > last.tag {
			last = it
		}
	}
	if err := last.Ack(); err != nil {
		t.Fatal(err)
	}
	// kill the connection without letting anything finish: the broker requeues every
	// unsettled delivery
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_ = d.Stop(ctx)
	eventually(t, 5*time.Second, "all three back (the held ack was not sent)", func() bool { return depth(t, r, q) == 3 })
}

// Stopping the broker: the connection loss is noticed at once, the jobs rr prefetched but did
// not start are dropped from its queue (the broker redelivers them: running them too would run
// them twice), the running job's ack fails with a clear error, pushes fail fast naming the
// pipeline and the broker, State says not ready; when the broker is back the driver
// reconnects by itself, declares again and consumes: every job runs, the prefetched ones once.
func TestBrokerRestart(t *testing.T) {
	r := requireBroker(t)
	q := uniq(t)
	in := newInstance(t, rrYAML(r, q, "durable: true"))
	d := in.driver("p")

	got := newCollector()
	block := make(chan struct{})
	var blockOnce, blocked sync.Once
	t.Cleanup(func() { blockOnce.Do(func() { close(block) }) })
	ackErr := make(chan error, 1)
	in.work(1, func(it *Item) {
		got.add(it)
		if it.ID() == "inflight-1" {
			first := false
			blocked.Do(func() { first = true })
			if first {
				<-block
				ackErr <- it.Ack()
				return
			}
		}
		if err := it.Ack(); err != nil {
			t.Errorf("Ack %s: %v", it.ID(), err)
		}
	})
	in.run("p")
	in.push("p", job("p", "before"))
	got.next(t, 5*time.Second)

	in.push("p", job("p", "inflight-1"), job("p", "inflight-2"), job("p", "inflight-3"))
	got.next(t, 5*time.Second) // inflight-1, now blocked in the worker
	eventually(t, 5*time.Second, "2 prefetched jobs in rr's queue", func() bool { return in.pq.Len() == 2 })

	stopApp(t, r)
	restarted := false
	defer func() {
		if !restarted {
			startApp(t, r)
		}
	}()
	eventually(t, 10*time.Second, "not ready", func() bool { return !state(t, d).Ready })
	eventually(t, 5*time.Second, "stale prefetched jobs dropped", func() bool { return in.pq.Len() == 0 })

	start := time.Now()
	err := d.Push(context.Background(), job("p", "during"))
	if err == nil {
		t.Fatal("push with the broker down succeeded")
	}
	if el := time.Since(start); el > time.Second {
		t.Fatalf("push took %s to fail", el)
	}
	msg := err.Error()
	if !strings.Contains(msg, `amqp pipeline "p"`) || !strings.Contains(msg, fmt.Sprintf("127.0.0.1:%d", r.Port)) ||
		!strings.Contains(msg, "unreachable") || strings.Contains(msg, "guest:guest") {
		t.Fatalf("push error: %v", err)
	}
	t.Logf("push while down: %v", err)
	st := state(t, d)
	if st.Ready || !strings.Contains(st.ErrorMessage, "unreachable") {
		t.Fatalf("state while down: %+v", st)
	}

	blockOnce.Do(func() { close(block) })
	if err := <-ackErr; err == nil || !strings.Contains(err.Error(), "connection to the broker was lost") {
		t.Fatalf("ack of the job running across the outage: %v", err)
	}

	startApp(t, r)
	restarted = true
	eventually(t, 15*time.Second, "ready again", func() bool { return state(t, d).Ready })
	in.push("p", job("p", "after"))
	eventually(t, 10*time.Second, "every job", func() bool {
		got.mu.Lock()
		defer got.mu.Unlock()
		return got.ids["after"] == 1 && got.ids["inflight-1"] == 2 && got.ids["inflight-2"] == 1 && got.ids["inflight-3"] == 1
	})
	got.mu.Lock()
	defer got.mu.Unlock()
	if got.ids["inflight-2"] != 1 || got.ids["inflight-3"] != 1 || got.ids["during"] != 0 {
		t.Fatalf("runs: %v", got.ids)
	}
}

// A broker that is down when rr starts does not fail the driver: it starts disconnected,
// reports not ready, and connects (and consumes) when the broker appears.
func TestBrokerDownAtStart(t *testing.T) {
	r := requireBroker(t)
	q := uniq(t)
	stopApp(t, r)
	restarted := false
	defer func() {
		if !restarted {
			startApp(t, r)
		}
	}()

	start := time.Now()
	in := newInstance(t, rrYAML(r, q, ""))
	if el := time.Since(start); el > 6*time.Second {
		t.Fatalf("DriverFromConfig took %s", el)
	}
	d := in.driver("p")
	got := newCollector()
	in.work(1, func(it *Item) { got.add(it); _ = it.Ack() })
	in.run("p") // no error with the broker down
	st := state(t, d)
	if st.Ready || !strings.Contains(st.ErrorMessage, "unreachable") || d.Connected() {
		t.Fatalf("state: %+v", st)
	}
	if err := d.Push(context.Background(), job("p", "x")); err == nil {
		t.Fatal("push succeeded with the broker down")
	}

	startApp(t, r)
	restarted = true
	eventually(t, 15*time.Second, "ready", func() bool { return state(t, d).Ready })
	in.push("p", job("p", "hello"))
	if it := got.next(t, 5*time.Second); it.ID() != "hello" {
		t.Fatalf("got %s", it.ID())
	}
}

// A pipeline declared over RPC (jobs.Declare: string values) works the same.
func TestDeclaredPipeline(t *testing.T) {
	r := requireBroker(t)
	q := uniq(t)
	p := newPlugin(t, newConfig(t, fmt.Sprintf("version: '3'\namqp:\n  addr: %s\n", r.Addr)))
	pq := newInstance(t, "version: '3'\n").pq
	pipe := jobsImpl.Pipeline{"name": "dyn", "driver": "amqp", "queue": q, "prefetch": "4", "exchange": q + "-ex",
		"exchange_type": "topic", "routing_key": "a.b", "priority": int64(3)}
	drv, err := p.DriverFromPipeline(pipe, pq, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = drv.Stop(context.Background()) })
	if err := drv.Run(context.Background(), pipe); err != nil {
		t.Fatal(err)
	}
	if err := drv.Push(context.Background(), job("dyn", "d-1")); err != nil {
		t.Fatal(err)
	}
	eventually(t, 5*time.Second, "the job in rr's queue", func() bool { return pq.Len() == 1 })
	it := pq.ExtractMin().(*Item)
	if it.ID() != "d-1" || it.GroupID() != "dyn" {
		t.Fatalf("%+v", it)
	}
	if err := it.Ack(); err != nil {
		t.Fatal(err)
	}
}

// amqps:// with a client certificate (the broker requires one): the pipeline works, and a
// redial connects with the same TLS settings. Without a client certificate the driver starts
// disconnected and says why.
func TestTLS(t *testing.T) {
	r := requireBroker(t)
	q := uniq(t)
	yaml := fmt.Sprintf(`version: '3'
amqp:
  addr: %s
  tls:
    root_ca: %s
    cert: %s
    key: %s
jobs:
  pipelines:
    p:
      driver: amqp
      config:
        queue: %s
        redial_timeout: 1
`, r.TLSAddr, r.CACert, r.ClientCert, r.ClientKey, q)
	in := newInstance(t, yaml)
	d := in.driver("p")
	s, err := d.session()
	if err != nil {
		t.Fatal(err)
	}
	if !s.conn.ConnectionState().HandshakeComplete {
		t.Fatal("not a TLS connection")
	}
	got := newCollector()
	in.work(1, func(it *Item) { got.add(it); _ = it.Ack() })
	in.run("p")
	in.push("p", job("p", "tls-1"))
	got.next(t, 5*time.Second)

	// connection lost: the redial uses TLS again
	s.fail()
	eventually(t, 10*time.Second, "a new session", func() bool {
		ns, err := d.session()
		return err == nil && ns != s && state(t, d).Ready
	})
	ns, _ := d.session()
	if !ns.conn.ConnectionState().HandshakeComplete {
		t.Fatal("the redial is not TLS")
	}
	in.push("p", job("p", "tls-2"))
	if it := got.next(t, 5*time.Second); it.ID() != "tls-2" {
		t.Fatal(it.ID())
	}

	// no client certificate: refused by the broker, the driver starts disconnected
	noCert := strings.Replace(yaml, "    cert: "+r.ClientCert+"\n    key: "+r.ClientKey+"\n", "", 1)
	bad := newInstance(t, noCert)
	st := state(t, bad.driver("p"))
	if st.Ready || !strings.Contains(st.ErrorMessage, "unreachable") {
		t.Fatalf("state without client certificate: %+v", st)
	}
	t.Logf("without a client certificate: %s", st.ErrorMessage)
}

// A broker resource alarm blocks publishers: pushes then fail fast saying so (instead of
// hanging on the socket), and work again once the alarm clears.
func TestBrokerBlocked(t *testing.T) {
	r := requireBroker(t)
	q := uniq(t)
	in := newInstance(t, rrYAML(r, q, ""))
	d := in.driver("p")
	in.push("p", job("p", "ok"))

	if err := r.Ctl("set_vm_memory_high_watermark", "0.000001"); err != nil {
		t.Fatal(err)
	}
	restored := false
	restore := func() {
		if !restored {
			restored = true
			if err := r.Ctl("set_vm_memory_high_watermark", "0.4"); err != nil {
				t.Error(err)
			}
		}
	}
	defer restore()

	var last error
	eventually(t, 20*time.Second, "pushes failing fast with the alarm", func() bool {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		start := time.Now()
		last = d.Push(ctx, job("p", "blocked"))
		return last != nil && strings.Contains(last.Error(), "blocks publishing") && time.Since(start) < 100*time.Millisecond
	})
	t.Logf("push during the alarm: %v", last)
	if st := state(t, d); !strings.Contains(st.ErrorMessage, "blocks publishing") {
		t.Fatalf("state: %+v", st)
	}
	if _, err := in.plugin.Ready(); err == nil || !strings.Contains(err.Error(), `amqp pipeline "p"`) || !strings.Contains(err.Error(), "blocks publishing") {
		t.Fatalf("Ready during the alarm: %v", err)
	}

	restore()
	eventually(t, 20*time.Second, "pushes working again", func() bool {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		return d.Push(ctx, job("p", "unblocked")) == nil
	})
}

// An auto_ack job is acked when a worker starts it: a connection lost while it runs does not
// bring it back.
func TestAutoAck(t *testing.T) {
	r := requireBroker(t)
	q := uniq(t)
	in := newInstance(t, rrYAML(r, q, ""))
	d := in.driver("p")
	release := make(chan struct{})
	var once sync.Once
	got := newCollector()
	in.work(1, func(it *Item) {
		got.add(it)
		<-release
		if err := it.Ack(); err != nil {
			t.Errorf("Ack of an auto_ack job: %v", err)
		}
	})
	t.Cleanup(func() { once.Do(func() { close(release) }) })
	in.run("p")
	in.push("p", job("p", "auto", func(j *jobsImpl.Job) { j.Options.AutoAck = true }), job("p", "manual"))
	it := got.next(t, 5*time.Second)
	if it.ID() != "auto" && it.ID() != "manual" {
		t.Fatal(it.ID())
	}
	eventually(t, 5*time.Second, "the other job prefetched", func() bool { return in.pq.Len() == 1 })
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_ = d.Stop(ctx) // drops the connection at once
	once.Do(func() { close(release) })

	// the started job: back only if it was not auto_ack; the queued one: always back
	want := 1
	if it.ID() == "manual" {
		want = 2
	}
	eventually(t, 5*time.Second, fmt.Sprintf("%d job(s) back in the queue", want), func() bool { return depth(t, r, q) == want })
	time.Sleep(200 * time.Millisecond)
	if n := depth(t, r, q); n != want {
		t.Fatalf("depth %d, want %d (started: %s)", n, want, it.ID())
	}
}

// Each exchange type routes the pipeline's pushes (and delayed pushes, but on fanout) to its queue.
func TestExchangeTypes(t *testing.T) {
	r := requireBroker(t)
	for _, typ := range exchangeTypes {
		t.Run(typ, func(t *testing.T) {
			q := uniq(t)
			in := newInstance(t, rrYAML(r, q, "exchange: "+q+"-ex\nexchange_type: "+typ+"\nrouting_key: jobs.emails"))
			in.push("p", job("p", "a"))
			if typ != "fanout" {
				in.push("p", job("p", "b", withDelay(1)))
			}
			want := 2
			if typ == "fanout" {
				want = 1
			}
			eventually(t, 5*time.Second, fmt.Sprintf("%d in the queue", want), func() bool { return depth(t, r, q) == want })
		})
	}
}

// /ready?plugin=amqp: 200 while every pipeline is connected (paused counts as up), 503 naming
// each pipeline that is down with its broker (password hidden) while the broker is stopped,
// 200 again once the driver reconnected by itself; a stopped pipeline is forgotten.
func TestReadiness(t *testing.T) {
	r := requireBroker(t)
	q := uniq(t)
	yaml := rrYAML(r, q, "") + fmt.Sprintf(`    second:
      driver: amqp
      config:
        queue: %s-2
        redial_timeout: 1
`, q)
	in := newInstance(t, yaml)
	ready := func() error {
		st, err := in.plugin.Ready()
		if err == nil && (st == nil || st.Code != 200) {
			t.Fatalf("Ready: %+v without an error", st)
		}
		return err
	}
	if err := ready(); err != nil {
		t.Fatalf("Ready with both pipelines connected: %v", err)
	}
	in.run("p")
	if err := in.driver("p").Pause(context.Background(), "p"); err != nil {
		t.Fatal(err)
	}
	if err := ready(); err != nil {
		t.Fatalf("Ready with a paused pipeline: %v", err)
	}

	stopApp(t, r)
	restarted := false
	defer func() {
		if !restarted {
			startApp(t, r)
		}
	}()
	var err error
	eventually(t, 10*time.Second, "not ready", func() bool { err = ready(); return err != nil && strings.Contains(err.Error(), "2 of 2") })
	msg := err.Error()
	for _, want := range []string{"amqp: not ready: 2 of 2 pipelines down (p, second)", `amqp pipeline "p"`, `amqp pipeline "second"`,
		fmt.Sprintf("amqp://guest:xxxxx@127.0.0.1:%d/", r.Port), "unreachable"} {
		if !strings.Contains(msg, want) {
			t.Fatalf("Ready while the broker is stopped lacks %q: %s", want, msg)
		}
	}
	if strings.Contains(msg, "guest:guest") {
		t.Fatalf("Ready shows the password: %s", msg)
	}
	if _, herr := in.plugin.Status(); herr == nil || herr.Error() != msg {
		t.Fatalf("Status while down: %v", herr)
	}
	t.Logf("/ready while the broker is stopped: %s", msg)

	// a stopped (destroyed) pipeline is not reported any more
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := in.driver("second").Stop(ctx); err != nil {
		t.Fatal(err)
	}
	if err := ready(); err == nil || !strings.Contains(err.Error(), "1 of 1 pipelines down (p)") {
		t.Fatalf("Ready after stopping the second pipeline: %v", err)
	}

	startApp(t, r)
	restarted = true
	eventually(t, 15*time.Second, "ready again", func() bool { return ready() == nil })
}
