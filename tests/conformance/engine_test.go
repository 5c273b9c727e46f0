package conformance

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// A probe is raw bytes sent on one connection and what a conforming server must do with them.
//
// Templates: {ID} is the probe's unique marker (every request a probe sends names it in its
// target or in X-Probe, so the worker's log tells which requests reached PHP); {HOST} is the
// server's host:port; {CL} is the length of everything after the first blank line (the body).
type probe struct {
	class string
	name  string
	send  string // the template, sent in one write
	parts []part // or these, in order, each after its delay
	want  expect
	// alt is a second acceptable outcome, where the RFC leaves the server a choice
	alt *expect
	why string // the RFC text or the reason for the requirement
	// match selects the worker's log lines of a probe that cannot carry a marker (each
	// server's lines are matched apart)
	match func(phpRecord) bool
	// observe: keep reading this long even when the verdict deadline has passed, to report
	// what the server does at last (a 408 at its timeout, a late response)
	observe time.Duration
	// during runs while the probe's connection is open (after 300 ms) against the same server:
	// e.g. a normal client must be served during a slowloris
	during func(addr string) error
}

type part struct {
	delay time.Duration
	data  string
}

// expect is the outcome a conforming server must produce.
type expect struct {
	// status: the allowed statuses of the first final response; empty: every final response is 2xx
	status []int
	// responses: the exact number of final responses; -1: zero or one (a close may replace it)
	responses int
	// php: the exact number of requests with the probe's marker that reach PHP
	php int
	// close: the server closes the connection after its last response
	close bool
	// open: the connection stays open after the last response (keep-alive)
	open bool
	// noInterim: no 1xx may precede the final response
	noInterim bool
	// within: the first final response (or the close, when responses is -1) arrives within this
	within time.Duration
	// check: further conditions on the outcome ("" when they hold)
	check func(o *outcome) string
	desc  string
}

const (
	defaultWithin = 1500 * time.Millisecond // below read_header_timeout: a 408 is not an answer
	grace         = 500 * time.Millisecond  // how long a response is followed by silence before we stop reading
)

// reject: one response with one of statuses, then the server closes; nothing reaches PHP.
func reject(statuses ...int) expect {
	return expect{status: statuses, responses: 1, php: 0, close: true, within: defaultWithin,
		desc: fmt.Sprintf("%s + close, 0 to PHP", statusList(statuses))}
}

// serve: n 2xx responses, n requests reach PHP.
func serve(n int) expect {
	return expect{responses: n, php: n, within: defaultWithin, desc: fmt.Sprintf("%d×2xx, %d to PHP", n, n)}
}

func (e expect) closes() expect { e.close = true; e.desc += " + close"; return e }
func (e expect) keepsOpen() expect {
	e.open = true
	e.desc += " + kept open"
	return e
}
func (e expect) in(d time.Duration) expect { e.within = d; e.desc += " within " + d.String(); return e }
func (e expect) and(desc string, f func(o *outcome) string) expect {
	prev := e.check
	e.check = func(o *outcome) string {
		if prev != nil {
			if s := prev(o); s != "" {
				return s
			}
		}
		return f(o)
	}
	e.desc += "; " + desc
	return e
}

func statusList(s []int) string {
	parts := make([]string, len(s))
	for i, v := range s {
		parts[i] = strconv.Itoa(v)
	}
	return strings.Join(parts, "/")
}

// response is one response read from the connection.
type response struct {
	status int
	header http.Header
	body   []byte
	at     time.Duration // since the first byte was sent
}

// outcome is what one probe run observed.
type outcome struct {
	server    string
	id        string
	responses []response // final responses, in order
	interim   []int      // 1xx before (or between) them
	closed    bool       // the server closed the connection (EOF or reset)
	closedAt  time.Duration
	reset     bool
	open      bool // still open when we stopped reading
	garbage   string
	writeErr  error
	php       []phpRecord // requests with the probe's marker that reached PHP
	smuggled  []phpRecord // those among them that were hidden in a body
	duringErr error
	elapsed   time.Duration
}

// summary is a one-line description of the outcome.
func (o *outcome) summary() string {
	var b strings.Builder
	if len(o.interim) > 0 {
		fmt.Fprintf(&b, "1xx %v, ", o.interim)
	}
	if len(o.responses) == 0 {
		b.WriteString("no response")
	} else {
		// runs of one status are written once: 200×100
		var st []string
		for i := 0; i < len(o.responses); {
			j := i
			for j < len(o.responses) && o.responses[j].status == o.responses[i].status {
				j++
			}
			if j-i > 2 {
				st = append(st, fmt.Sprintf("%d×%d", o.responses[i].status, j-i))
			} else {
				for k := i; k < j; k++ {
					st = append(st, strconv.Itoa(o.responses[k].status))
				}
			}
			i = j
		}
		fmt.Fprintf(&b, "%s (first after %s)", strings.Join(st, ","), o.responses[0].at.Round(10*time.Millisecond))
	}
	switch {
	case o.closed && o.reset:
		fmt.Fprintf(&b, ", reset at %s", o.closedAt.Round(10*time.Millisecond))
	case o.closed:
		fmt.Fprintf(&b, ", closed at %s", o.closedAt.Round(10*time.Millisecond))
	case o.open:
		fmt.Fprintf(&b, ", open at %s", o.elapsed.Round(10*time.Millisecond))
	}
	if o.garbage != "" {
		fmt.Fprintf(&b, ", unparsable: %s", o.garbage)
	}
	fmt.Fprintf(&b, "; PHP saw %d", len(o.php))
	if len(o.smuggled) > 0 {
		fmt.Fprintf(&b, " (%d SMUGGLED: %s)", len(o.smuggled), o.smuggled[0].URI)
	}
	return b.String()
}

// expand fills in a template.
func expand(tmpl, id, host string) string {
	s := strings.ReplaceAll(tmpl, "{ID}", id)
	s = strings.ReplaceAll(s, "{HOST}", host)
	if strings.Contains(s, "{CL}") {
		i := strings.Index(s, "\r\n\r\n")
		body := ""
		if i >= 0 {
			body = s[i+4:]
		}
		s = strings.ReplaceAll(s, "{CL}", strconv.Itoa(len(body)))
	}
	return s
}

// run sends the probe to addr and reads what comes back.
func (p *probe) run(inst *rrInstance, server, id string) *outcome {
	addr := inst.addr[server]
	o := &outcome{server: server, id: id}
	parts := p.parts
	if len(parts) == 0 {
		parts = []part{{data: p.send}}
	}
	within := p.want.within
	if p.alt != nil && p.alt.within > within {
		within = p.alt.within
	}
	if within == 0 {
		within = defaultWithin
	}
	var sendTime time.Duration
	for _, pt := range parts {
		sendTime += pt.delay
	}
	// the overall bound: the verdict time plus the time the probe itself takes to send
	hard := within + sendTime + grace
	if p.observe > hard {
		hard = p.observe
	}

	c, err := net.DialTimeout("tcp", addr, 2*time.Second)
	if err != nil {
		o.garbage = "dial: " + err.Error()
		return o
	}
	defer c.Close()
	start := time.Now()
	_ = c.SetWriteDeadline(start.Add(hard + time.Second))

	writeDone := make(chan struct{})
	go func() {
		defer close(writeDone)
		for _, pt := range parts {
			if pt.delay > 0 {
				time.Sleep(pt.delay)
			}
			if _, err := io.WriteString(c, expand(pt.data, id, addr)); err != nil {
				o.writeErr = err
				return
			}
		}
	}()
	var duringDone chan struct{}
	if p.during != nil {
		duringDone = make(chan struct{})
		go func() {
			defer close(duringDone)
			time.Sleep(300 * time.Millisecond)
			o.duringErr = p.during(addr)
		}()
	}

	br := bufio.NewReaderSize(c, 64<<10)
	deadline := start.Add(hard)
	for {
		_ = c.SetReadDeadline(deadline)
		resp, err := http.ReadResponse(br, &http.Request{Method: http.MethodGet})
		if err == nil {
			body, berr := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
			_ = resp.Body.Close()
			r := response{status: resp.StatusCode, header: resp.Header, body: body, at: time.Since(start)}
			if resp.StatusCode >= 100 && resp.StatusCode < 200 {
				o.interim = append(o.interim, resp.StatusCode)
				continue
			}
			o.responses = append(o.responses, r)
			if berr != nil {
				err = berr
			} else {
				// more responses (a smuggled request's) or the close follow at once
				if d := time.Now().Add(grace); d.Before(deadline) {
					deadline = d
				}
				continue
			}
		}
		var ne net.Error
		switch {
		case errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF):
			o.closed, o.closedAt = true, time.Since(start)
		case errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE):
			o.closed, o.reset, o.closedAt = true, true, time.Since(start)
		case errors.As(err, &ne) && ne.Timeout():
			o.open = true
		default:
			o.garbage = err.Error()
			if peek, _ := br.Peek(br.Buffered()); len(peek) > 0 {
				o.garbage += fmt.Sprintf(" %q", truncate(string(peek), 80))
			}
		}
		break
	}
	o.elapsed = time.Since(start)
	_ = c.Close()
	<-writeDone
	if duringDone != nil {
		<-duringDone
	}
	return o
}

func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n] + "…"
	}
	return s
}

// collectPHP attributes the worker's log lines to the outcome: those naming its marker, and
// those match selects (for a probe that cannot carry a marker).
func (o *outcome) collectPHP(recs []phpRecord, match func(phpRecord) bool) {
	for _, rec := range recs {
		if rec.Event != "request" || rec.Server != o.server {
			continue
		}
		if !strings.Contains(rec.URI, o.id) && !strings.Contains(rec.Probe, o.id) && (match == nil || !match(rec)) {
			continue
		}
		o.php = append(o.php, rec)
		if strings.Contains(rec.URI, "/smuggled/") || strings.Contains(rec.Probe, "smuggled") {
			o.smuggled = append(o.smuggled, rec)
		}
	}
}

// judge returns "" when the outcome meets e, else why not.
func (e expect) judge(o *outcome) string {
	var errs []string
	fail := func(f string, a ...any) { errs = append(errs, fmt.Sprintf(f, a...)) }
	if len(o.smuggled) > 0 {
		fail("a request hidden in the body reached PHP: %s %s", o.smuggled[0].Method, o.smuggled[0].URI)
	}
	n := len(o.responses)
	switch {
	case e.responses == -1 && n > 1:
		fail("%d responses, want at most 1", n)
	case e.responses >= 0 && n != e.responses:
		fail("%d final responses, want %d", n, e.responses)
	}
	if n > 0 {
		if len(e.status) > 0 {
			if !containsInt(e.status, o.responses[0].status) {
				fail("status %d, want %s", o.responses[0].status, statusList(e.status))
			}
		} else {
			for i, r := range o.responses {
				if r.status < 200 || r.status > 299 {
					fail("response %d is %d, want 2xx", i+1, r.status)
					break
				}
			}
		}
		if o.responses[0].at > e.within {
			fail("first response after %s, want within %s", o.responses[0].at.Round(10*time.Millisecond), e.within)
		}
	} else if e.responses == -1 {
		if !o.closed {
			fail("neither a response nor a close within %s", e.within)
		} else if o.closedAt > e.within {
			fail("closed after %s, want within %s", o.closedAt.Round(10*time.Millisecond), e.within)
		}
	}
	if e.noInterim && len(o.interim) > 0 {
		fail("interim %v sent before the final response", o.interim)
	}
	if e.close && !o.closed {
		fail("connection kept open, want close")
	}
	if e.open && o.closed {
		fail("connection closed, want kept open")
	}
	if e.php >= 0 && len(o.php) != e.php {
		fail("%d requests reached PHP, want %d", len(o.php), e.php)
	}
	if o.garbage != "" {
		fail("unparsable response: %s", o.garbage)
	}
	if o.duringErr != nil {
		fail("meanwhile: %v", o.duringErr)
	}
	if e.check != nil {
		if s := e.check(o); s != "" {
			fail("%s", s)
		}
	}
	return strings.Join(errs, "; ")
}

func containsInt(list []int, v int) bool {
	for _, x := range list {
		if x == v {
			return true
		}
	}
	return false
}

// verdict judges pivot's (or stock's) outcome against the probe's expectations.
func (p *probe) verdict(o *outcome) string {
	s := p.want.judge(o)
	if s == "" || p.alt == nil {
		return s
	}
	s2 := p.alt.judge(o)
	if s2 == "" {
		return ""
	}
	return s + " | or (alternative) " + s2
}

func (p *probe) expectation() string {
	if p.alt == nil {
		return p.want.desc
	}
	return p.want.desc + "  OR  " + p.alt.desc
}

// runTable runs every probe against both servers of inst (a few connections at a time; a
// marker per run keeps the worker's log lines apart), then judges each in its own subtest.
func runTable(t *testing.T, inst *rrInstance, table []probe, prefix string) {
	type key struct {
		i      int
		server string
	}
	results := map[key]*outcome{}
	var mu sync.Mutex
	sem := make(chan struct{}, 12)
	var wg sync.WaitGroup
	for i := range table {
		for _, s := range servers {
			wg.Add(1)
			sem <- struct{}{}
			go func(i int, s string) {
				defer wg.Done()
				defer func() { <-sem }()
				id := fmt.Sprintf("%s%03d%c", prefix, i, s[0])
				o := table[i].run(inst, s, id)
				mu.Lock()
				results[key{i, s}] = o
				mu.Unlock()
			}(i, s)
		}
	}
	wg.Wait()
	time.Sleep(200 * time.Millisecond) // a hidden request still in a worker
	recs, err := inst.phpRecords()
	if err != nil {
		t.Fatal(err)
	}
	for i := range table {
		p := &table[i]
		pivot, stock := results[key{i, serverPivot}], results[key{i, serverStock}]
		pivot.collectPHP(recs, p.match)
		stock.collectPHP(recs, p.match)
		t.Run(p.class+"/"+p.name, func(t *testing.T) {
			sv := p.verdict(stock)
			stockNote := "meets it"
			if sv != "" {
				stockNote = "does not: " + sv
			}
			t.Logf("expect: %s   [%s]", p.expectation(), p.why)
			t.Logf("pivot: %s", pivot.summary())
			t.Logf("stock: %s   (reference: %s)", stock.summary(), stockNote)
			verdict := "PASS"
			if v := p.verdict(pivot); v != "" {
				verdict = "FAIL"
				t.Errorf("pivot: %s", v)
			}
			stockCell := stock.summary()
			if sv == "" {
				stockCell += " ✓"
			} else {
				stockCell += " ✗"
			}
			addSummary(summaryRow{class: p.class, name: p.name, pivot: pivot.summary(), stock: stockCell, verdict: verdict})
		})
	}
}

// phpCheck builds a check on the PHP records of an outcome.
func phpCheck(f func(recs []phpRecord) string) func(o *outcome) string {
	return func(o *outcome) string { return f(o.php) }
}

// bodyLens is a check that the requests reaching PHP had these body lengths, in order.
func bodyLens(lens ...int) func(o *outcome) string {
	return phpCheck(func(recs []phpRecord) string {
		got := make([]int, len(recs))
		for i, r := range recs {
			got[i] = r.BodyLen
		}
		sort.Ints(got)
		want := append([]int(nil), lens...)
		sort.Ints(want)
		if fmt.Sprint(got) != fmt.Sprint(want) {
			return fmt.Sprintf("PHP saw body lengths %v, want %v", got, want)
		}
		return ""
	})
}
