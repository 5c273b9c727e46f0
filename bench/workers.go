package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net/http"
	"os/exec"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// loadExact sends exactly n GET requests over conc keep-alive connections and returns how many
// were not 200.
func loadExact(ctx context.Context, url string, n, conc int) (int64, error) {
	tr := &http.Transport{MaxIdleConnsPerHost: conc, MaxConnsPerHost: conc, DisableCompression: true}
	defer tr.CloseIdleConnections()
	client := &http.Client{Transport: tr, Timeout: 10 * time.Second}
	var next, bad atomic.Int64
	var firstErr error
	var once sync.Once
	var wg sync.WaitGroup
	for range conc {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for next.Add(1) <= int64(n) && ctx.Err() == nil {
				req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
				resp, err := client.Do(req)
				if err != nil {
					bad.Add(1)
					once.Do(func() { firstErr = err })
					continue
				}
				_, _ = io.Copy(io.Discard, resp.Body)
				_ = resp.Body.Close()
				if resp.StatusCode != http.StatusOK {
					bad.Add(1)
				}
			}
		}()
	}
	wg.Wait()
	if ctx.Err() != nil {
		return bad.Load(), ctx.Err()
	}
	return bad.Load(), firstErr
}

// workerMemory reads VmRSS of each PHP worker, with the request count rr's informer reports.
func workerMemory(s *server) ([]memory, error) {
	execs := map[int]int64{}
	pids := s.workerPids()
	if s.rpc != "" {
		list, err := informerWorkers(s)
		if err != nil {
			return nil, err
		}
		pids = pids[:0]
		for _, w := range list.Workers {
			pids = append(pids, int(w.Pid))
			execs[int(w.Pid)] = int64(w.NumExecs)
		}
	}
	if len(pids) == 0 {
		return nil, fmt.Errorf("no PHP worker processes found")
	}
	var out []memory
	for _, pid := range pids {
		m, err := readMemory(pid)
		if err != nil {
			return nil, err
		}
		m.Execs = execs[pid]
		out = append(out, m)
	}
	return out, nil
}

// measureRSS sends n requests (which also warms the server up) and reads the workers' RSS.
func measureRSS(ctx context.Context, s *server, n int, res *results) {
	r := &rssResult{Server: s.kind, Workers: s.workers, Requests: n}
	res.WorkerRSS = append(res.WorkerRSS, r)
	bad, err := loadExact(ctx, s.url, n, 16)
	if err != nil || bad > 0 {
		r.Failed = fmt.Sprintf("%d of %d requests failed (%v)", bad, n, err)
		if ctx.Err() == nil {
			res.errorf("RSS load %s: %s", s.label(), r.Failed)
		}
		return
	}
	if r.After, err = workerMemory(s); err != nil {
		r.Failed = err.Error()
		res.errorf("RSS %s: %v", s.label(), err)
		return
	}
	for _, m := range r.After {
		r.MaxKB, r.MaxAnon = max(r.MaxKB, m.RSSKB), max(r.MaxAnon, m.AnonKB)
	}
}

// rssAtEnd reads the workers' RSS again after every wrk round.
func rssAtEnd(s *server, res *results) {
	for _, r := range res.WorkerRSS {
		if r.Server == s.kind && r.Workers == s.workers && r.Failed == "" {
			r.AtEnd, _ = workerMemory(s)
		}
	}
}

// measureWorkerStart times informer.AddWorker (spawn to handshake) on each rr kind's smallest
// pool; the fpm pool is static and has no such call.
func measureWorkerStart(ctx context.Context, cfg *config, servers []*server, res *results) {
	seen := map[string]bool{}
	for _, s := range servers {
		if s.rpc == "" || seen[s.kind] || ctx.Err() != nil {
			continue
		}
		seen[s.kind] = true
		st := &startResult{Server: s.kind}
		res.WorkerStart = append(res.WorkerStart, st)
		for range cfg.spawnSamples {
			d, err := timeAddWorker(s)
			if err != nil {
				st.Failed = err.Error()
				res.errorf("worker start %s: %v", s.label(), err)
				break
			}
			st.Samples = append(st.Samples, round3(float64(d.Microseconds())/1000))
		}
		st.MedianMS = round3(median(st.Samples))
		progress("worker start %s: median %.1f ms of %v", s.kind, st.MedianMS, st.Samples)
	}
}

// phpBaseline is the memory of an idle `php -r` process started as the variant says, that has
// served nothing: what the PHP binary and its extensions cost before any worker code runs.
func phpBaseline(ctx context.Context, php string, v phpVariant) (memory, error) {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	args := append(slices.Clip(v.args), "-r", `echo "ready\n"; sleep(10);`)
	cmd := exec.CommandContext(ctx, php, args...)
	out, err := cmd.StdoutPipe()
	if err != nil {
		return memory{}, err
	}
	if err := cmd.Start(); err != nil {
		return memory{}, err
	}
	defer func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	}()
	line, err := bufio.NewReader(out).ReadString('\n')
	if err != nil || line != "ready\n" {
		return memory{}, fmt.Errorf("php -r: %q %v", line, err)
	}
	m, err := readMemory(cmd.Process.Pid)
	m.Comment = v.label
	return m, err
}
