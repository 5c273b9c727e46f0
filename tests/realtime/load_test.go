package realtime

import (
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/pivotphp/pivotphp-runtime-roadrunner/internal/testsupport"
)

// envInt reads a positive integer from the environment, or def.
func envInt(t *testing.T, name string, def int) int {
	v := os.Getenv(name)
	if v == "" {
		return def
	}
	n, err := strconv.Atoi(v)
	if err != nil || n <= 0 {
		t.Fatalf("%s=%q: want a positive integer", name, v)
	}
	return n
}

// rssKB is a process's resident memory (VmRSS), in KiB.
func rssKB(t *testing.T, pid int) int {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(line, "VmRSS:") {
			n, _ := strconv.Atoi(strings.Fields(line)[1])
			return n
		}
	}
	return 0
}

// TestLoadEveryClientGetsEveryMessageInOrder: PIVOT_BROADCAST_CLIENTS WebSocket clients (200
// by default; the size is 2000) on 10 channels, client i on channel i%10;
// PIVOT_BROADCAST_MESSAGES messages (200; 1000) published from PHP, message j to channel
// j%10, PIVOT_BROADCAST_INTERVAL_US apart (2000). Every client must receive every message of
// its channel, in order; publish→receive latency (PHP's clock to the client's, one host) and
// rr's RSS are logged. The p99 target (< 50 ms) is reported, not asserted: timing on a shared
// 2-core box is not a pass/fail signal (bench/README.md has the recorded runs).
func TestLoadEveryClientGetsEveryMessageInOrder(t *testing.T) {
	clients := envInt(t, "PIVOT_BROADCAST_CLIENTS", 200)
	messages := envInt(t, "PIVOT_BROADCAST_MESSAGES", 200)
	interval := envInt(t, "PIVOT_BROADCAST_INTERVAL_US", 2000)
	const channels = 10
	cfg := "    max_connections: 20000\n"
	if d := os.Getenv("PIVOT_BROADCAST_WRITE_DELAY"); d != "" {
		cfg += "    write_delay: " + d + "\n"
	}
	s := startServer(t, cfg, 2)
	rssIdle := rssKB(t, s.Cmd.Process.Pid)

	// expect is client i's share: messages j ≡ i (mod 10)
	expect := func(i int) int64 { return int64((messages - i%channels + channels - 1) / channels) }
	// a client's reader alone writes its state until every delivery is in (received), so the
	// readers share no lock; each delivery's latency is kept by its client, sized up front
	type delivery struct{ msg, us int32 }
	type state struct {
		next  atomic.Int64 // the next message index expected
		count atomic.Int64
		bad   atomic.Value // the first out-of-order message, a string
		got   []delivery
	}
	states := make([]*state, clients)
	var received atomic.Int64

	start := time.Now()
	var wg sync.WaitGroup
	sem := make(chan struct{}, 32)
	errs := make(chan error, clients)
	conns := make([]*wsClient, clients)
	for i := 0; i < clients; i++ {
		st := &state{got: make([]delivery, 0, expect(i))}
		st.next.Store(int64(i % channels))
		states[i] = st
		wg.Add(1)
		sem <- struct{}{}
		go func(i int) {
			defer wg.Done()
			defer func() { <-sem }()
			onPub := func(_, data string) {
				now := time.Now().UnixMicro()
				stamp, rest, _ := strings.Cut(data, "|")
				us, _ := strconv.ParseInt(stamp, 10, 64)
				j, _ := strconv.ParseInt(rest, 10, 64)
				if want := st.next.Load(); j != want && st.bad.Load() == nil {
					st.bad.Store(fmt.Sprintf("client %d: message %d where %d was due", i, j, want))
				}
				st.next.Store(j + channels)
				if n := st.count.Add(1); n <= expect(i) { // more is caught below
					st.got = append(st.got, delivery{msg: int32(j), us: int32(now - us)})
				}
				received.Add(1)
			}
			c, status, err := dialWS(s.ws(), nil, onPub)
			if err != nil {
				errs <- fmt.Errorf("client %d: status %d: %v", i, status, err)
				return
			}
			conns[i] = c
			if _, err = c.subscribe("load." + strconv.Itoa(i%channels)); err != nil {
				errs <- fmt.Errorf("client %d: %v", i, err)
			}
		}(i)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		for _, c := range conns {
			c.Close()
		}
	})
	connected := time.Since(start)
	rssConnected := rssKB(t, s.Cmd.Process.Pid)

	names := make([]string, channels)
	for i := range names {
		names[i] = "load." + strconv.Itoa(i)
	}
	msgs := make([]string, messages)
	for j := range msgs {
		msgs[j] = strconv.Itoa(j)
	}
	body, _ := json.Marshal(map[string]any{"channels": names, "messages": msgs, "stamp": true,
		"round_robin": true, "interval_us": interval})
	rrCPU0, selfCPU0 := cpuTime(t, s.Cmd.Process.Pid), selfCPU()
	pubStart := time.Now()
	resp, out := testsupport.Do(t, http.MethodPost, s.base()+"/publish", strings.NewReader(string(body)),
		http.Header{"Content-Type": {"application/json"}})
	if resp.StatusCode != 200 {
		t.Fatalf("publish: %d %s", resp.StatusCode, out)
	}
	published := time.Since(pubStart)

	var total int64
	for i := range states {
		total += expect(i)
	}
	testsupport.WaitFor(t, 2*time.Minute, "every message delivered", func() bool { return received.Load() >= total })
	rssPeak := rssKB(t, s.Cmd.Process.Pid)
	delivered := time.Since(pubStart)
	rrCPU, testCPU := cpuTime(t, s.Cmd.Process.Pid)-rrCPU0, selfCPU()-selfCPU0
	for i, st := range states {
		if b := st.bad.Load(); b != nil {
			t.Fatal(b)
		}
		if got := st.count.Load(); got != expect(i) {
			t.Fatalf("client %d got %d messages, want %d", i, got, expect(i))
		}
	}
	time.Sleep(100 * time.Millisecond)
	if received.Load() != total {
		t.Fatalf("%d deliveries, want exactly %d", received.Load(), total)
	}

	// every delivery is in: each reader's last append happened before its last
	// received.Add, which WaitFor's load of received (== total) saw
	lat := make([]int64, 0, total)
	worst := make([]int64, messages) // each message's slowest delivery, µs
	var frames, pushes int64
	for i, st := range states {
		for _, d := range st.got {
			lat = append(lat, int64(d.us))
			if j := int(d.msg); j >= 0 && j < messages && int64(d.us) > worst[j] {
				worst[j] = int64(d.us)
			}
		}
		frames, pushes = frames+conns[i].pushFrames.Load(), pushes+conns[i].pushes.Load()
	}
	sort.Slice(lat, func(a, b int) bool { return lat[a] < lat[b] })
	pct := func(p float64) time.Duration {
		return time.Duration(lat[int(float64(len(lat)-1)*p)]) * time.Microsecond
	}
	t.Logf("%d clients on %d channels connected in %s; %d messages published in %s (%d µs apart); %d deliveries, none lost, in order",
		clients, channels, connected.Round(time.Millisecond), messages, published.Round(time.Millisecond), interval, total)
	t.Logf("publish→receive latency: p50 %s, p99 %s, max %s (target p99 < 50ms)", pct(0.5), pct(0.99), pct(1))
	slow := 0
	for _, w := range worst {
		if w > 50000 {
			slow++
		}
	}
	t.Logf("%d of %d messages had a delivery over 50ms; %d publications arrived in %d WebSocket frames", slow, messages, pushes, frames)
	if testing.Verbose() && os.Getenv("PIVOT_BROADCAST_WORST") != "" {
		t.Logf("worst delivery per message (µs): %v", worst)
	}
	t.Logf("from the first publish to the last delivery %s: CPU used by rr %s, by this test's clients %s (drops %v, refused %v)",
		delivered.Round(time.Millisecond), rrCPU.Round(time.Millisecond), testCPU.Round(time.Millisecond),
		s.metric(t, "rr_pivot_broadcast_drops_total"), s.metric(t, "rr_pivot_broadcast_refused_total"))
	t.Logf("rr RSS: %d MiB idle, %d MiB with the clients connected, %d MiB after the messages",
		rssIdle>>10, rssConnected>>10, rssPeak>>10)
	// a client dropped for a write timeout once it had every message (a starved box) is not
	// connected any more, but counted as a drop
	if n, d := s.metric(t, "rr_pivot_broadcast_clients"), s.metric(t, "rr_pivot_broadcast_drops_total"); n != float64(clients)-d {
		t.Fatalf("rr_pivot_broadcast_clients = %v with %v drops, want %d in all", n, d, clients)
	}
}

// cpuTime is a process's user+system CPU time so far (/proc/<pid>/stat, clock ticks of 10 ms).
func cpuTime(t *testing.T, pid int) time.Duration {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		t.Fatal(err)
	}
	f := strings.Fields(string(b[strings.LastIndexByte(string(b), ')')+2:]))
	ut, _ := strconv.ParseInt(f[11], 10, 64)
	st, _ := strconv.ParseInt(f[12], 10, 64)
	return time.Duration(ut+st) * 10 * time.Millisecond
}

// selfCPU is this test process's CPU time so far.
func selfCPU() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
