package observe

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-rod/rod"
	"github.com/go-rod/rod/lib/proto"
	"github.com/pivotphp/pivotphp-runtime-roadrunner/internal/testsupport"
)

// envScreenshot, when set, is where TestDebugPanelInChromium also saves its screenshot
// (docs/debug-panel.png is made so).
const envScreenshot = "PIVOT_PANEL_SCREENSHOT"

// pagePids are the pids in the page's workers table.
func pagePids(t *testing.T, p *rod.Page) []string {
	s := testsupport.EvalJS(t, p, `[...document.querySelectorAll('#workers tbody tr')].map(r => r.dataset.pid).join(',')`)
	if s == "" {
		return nil
	}
	return strings.Split(s, ",")
}

// The panel in a real headless Chromium while a load runs: it goes live over SSE, shows both
// workers, the request rate and the served counts rising, a 5xx with its request id and the
// stderr line the worker wrote for it; Reset all replaces every pid, Replace one pid.
func TestDebugPanelInChromium(t *testing.T) {
	panelAddr := testsupport.FreeAddr(t)
	metricsAddr := testsupport.FreeAddr(t)
	rr, base := startWorkerRR(t, fmt.Sprintf("  debug:\n    enabled: true\n    address: %s\nmetrics:\n  address: %s\n", panelAddr, metricsAddr))
	panelURL := "http://" + panelAddr + "/"

	page := testsupport.OpenPage(t, testsupport.StartChromium(t), panelURL)
	testsupport.WaitFor(t, 20*time.Second, "the page live with two workers", func() bool {
		return testsupport.EvalJS(t, page, `document.getElementById('conn').textContent`) == "live" && len(pagePids(t, page)) == 2
	})
	first := pagePids(t, page)
	servedBefore := testsupport.EvalJS(t, page, `[...document.querySelectorAll('#workers td.execs')].reduce((a, td) => a + Number(td.textContent), 0)`)

	// a load for a few seconds: small requests, and a few that fail with a logged error
	var stop atomic.Bool
	var sent atomic.Int64
	var wg sync.WaitGroup
	for c := 0; c < 4; c++ {
		wg.Add(1)
		go func(c int) {
			defer wg.Done()
			client := &http.Client{Timeout: 10 * time.Second}
			for i := 0; !stop.Load(); i++ {
				path := "/sleep?ms=2"
				if i%50 == 7 {
					path = "/fail"
				}
				req, _ := http.NewRequest(http.MethodGet, base+path, nil)
				req.Header.Set("X-Request-Id", fmt.Sprintf("load-%d-%d", c, i))
				resp, err := client.Do(req)
				if err != nil {
					t.Errorf("load: %v", err)
					return
				}
				_, _ = io.Copy(io.Discard, resp.Body)
				_ = resp.Body.Close()
				sent.Add(1)
			}
		}(c)
	}
	// at least 6 seconds, so the chart has a few points (the screenshot)
	started := time.Now()
	deadline := started.Add(20 * time.Second)
	var rps int
	for time.Now().Before(deadline) {
		rps, _ = strconv.Atoi(testsupport.EvalJS(t, page, `document.getElementById('rps-now').textContent`))
		if rps > 0 && time.Since(started) > 6*time.Second && strings.Contains(testsupport.EvalJS(t, page, `document.getElementById('errors').textContent`), "the database is gone") {
			break
		}
		time.Sleep(200 * time.Millisecond)
	}
	// the screenshot while the load still runs
	shot := filepath.Join(t.TempDir(), "debug-panel.png")
	testsupport.SaveScreenshot(t, page, shot)
	if dst := os.Getenv(envScreenshot); dst != "" {
		testsupport.SaveScreenshot(t, page, dst)
	}
	stop.Store(true)
	wg.Wait()
	t.Logf("load: %d requests; the page showed %d requests/s", sent.Load(), rps)
	if rps <= 0 {
		t.Fatal("the requests/s figure never rose while the load ran")
	}
	servedAfter := testsupport.EvalJS(t, page, `[...document.querySelectorAll('#workers td.execs')].reduce((a, td) => a + Number(td.textContent), 0)`)
	if a, _ := strconv.Atoi(servedAfter); a <= atoiOrZero(servedBefore) {
		t.Errorf("served counts did not rise: %s then %s", servedBefore, servedAfter)
	}
	errText := testsupport.EvalJS(t, page, `document.getElementById('errors').textContent`)
	if !regexp.MustCompile(`500 GET /fail .*request id load-\d+-\d+`).MatchString(errText) || !strings.Contains(errText, "the database is gone") {
		t.Errorf("the errors list lacks the failed request, its id or its stderr line: %q", errText)
	}
	// the failed request's stderr line is the one the worker wrote for that very request
	rid := testsupport.EvalJS(t, page, `document.querySelector('#errors .err code.rid').textContent`)
	if pre := testsupport.EvalJS(t, page, `(document.querySelector('#errors .err pre') || {}).textContent`); !strings.Contains(pre, "the database is gone") {
		t.Errorf("error %s shows no stderr line: %q", rid, pre)
	}
	if mem := testsupport.EvalJS(t, page, `document.getElementById('memory-legend').textContent`); !strings.Contains(mem, first[0]) {
		t.Errorf("the memory chart's legend lacks worker %s: %q", first[0], mem)
	}
	// Reset all: every pid replaced
	if err := page.MustElement("#reset-all").Click(proto.InputMouseButtonLeft, 1); err != nil {
		t.Fatal(err)
	}
	testsupport.WaitFor(t, 30*time.Second, "every pid replaced after Reset all", func() bool {
		now := pagePids(t, page)
		return len(now) == 2 && !containsPid(now, first[0]) && !containsPid(now, first[1])
	})
	afterReset := pagePids(t, page)

	// Replace one: that pid goes, the other stays
	victim, other := afterReset[0], afterReset[1]
	btn, err := page.Element(`button.replace[data-pid="` + victim + `"]`)
	if err != nil {
		t.Fatal(err)
	}
	if err := btn.Click(proto.InputMouseButtonLeft, 1); err != nil {
		t.Fatal(err)
	}
	testsupport.WaitFor(t, 30*time.Second, "worker "+victim+" replaced", func() bool {
		now := pagePids(t, page)
		return len(now) == 2 && !containsPid(now, victim) && containsPid(now, other)
	})
	t.Logf("pids: %v, after Reset all %v, after replacing %s: %v", first, afterReset, victim, pagePids(t, page))

	// the supervisor's RSS samples as a metric (a new worker's first sample comes within a second)
	pids := pagePids(t, page)
	testsupport.WaitFor(t, 10*time.Second, "rr_pivot_worker_rss_peak_bytes for every worker", func() bool {
		_, body := testsupport.Do(t, http.MethodGet, "http://"+metricsAddr+"/metrics", nil, nil)
		for _, pid := range pids {
			m := regexp.MustCompile(`rr_pivot_worker_rss_peak_bytes\{pid="` + pid + `"\} ([0-9.e+]+)`).FindSubmatch(body)
			if m == nil {
				return false
			}
			if v, _ := strconv.ParseFloat(string(m[1]), 64); v < 1<<20 {
				t.Errorf("worker %s's RSS is %s bytes", pid, m[1])
			}
		}
		return true
	})
	_ = rr
}

// The panel's API: the memory timeline grows by a sample a second per worker, and a worker
// that keeps 8 MB more per request shows it.
func TestDebugPanelMemoryTimeline(t *testing.T) {
	panelAddr := testsupport.FreeAddr(t)
	_, base := startWorkerRR(t, fmt.Sprintf("  debug:\n    enabled: true\n    address: %s\n", panelAddr))
	type snap struct {
		Workers []struct {
			Pid    int64 `json:"pid"`
			RSS    uint64
			Memory []struct {
				T   int64  `json:"t"`
				RSS uint64 `json:"rss"`
			} `json:"memory"`
		} `json:"workers"`
	}
	read := func() snap {
		_, body := testsupport.Do(t, http.MethodGet, "http://"+panelAddr+"/api/snapshot", nil, nil)
		var s snap
		if err := json.Unmarshal(body, &s); err != nil {
			t.Fatalf("%v: %s", err, body)
		}
		return s
	}
	testsupport.WaitFor(t, 15*time.Second, "3 samples per worker", func() bool {
		s := read()
		return len(s.Workers) == 2 && len(s.Workers[0].Memory) >= 3 && len(s.Workers[1].Memory) >= 3
	})
	before := map[int64]uint64{}
	for _, w := range read().Workers {
		before[w.Pid] = w.Memory[len(w.Memory)-1].RSS
	}
	for i := 0; i < 6; i++ {
		if status, body := getWithID(t, base+"/grow", ""); status != http.StatusOK {
			t.Fatalf("/grow: %d %s", status, body)
		}
	}
	testsupport.WaitFor(t, 10*time.Second, "a worker's RSS up by 8 MB or more", func() bool {
		for _, w := range read().Workers {
			if n := len(w.Memory); n > 0 && w.Memory[n-1].RSS >= before[w.Pid]+8<<20 {
				return true
			}
		}
		return false
	})
}

func containsPid(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

func atoiOrZero(s string) int { n, _ := strconv.Atoi(s); return n }
