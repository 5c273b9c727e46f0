// Package featurerequest runs the .rr.yaml of the feature request that started this project
// (testdata/.rr.yaml, byte for byte as users copy it) against real RabbitMQ and Redis, and
// uses every section: a static file with ETag, a gzipped PHP response, a job on each pipeline
// consumed by PHP, both KV storages, an app_metric_ series, an edit served through `reload`.
// It runs twice: as written (RoadRunner's stock http plugin) and with `http:` renamed to
// `pivot:` (pivot's server). Only addresses are overridden (-o), to stay on 127.0.0.1 and on
// the test's own ports and servers; RPC listens where the file leaves it, on RoadRunner's
// default 127.0.0.1:6001.
package featurerequest

import (
	"bytes"
	"compress/gzip"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pivotphp/pivotphp-runtime-roadrunner/internal/testsupport"
)

func TestMain(m *testing.M) { testsupport.Main(m) }

func TestFeatureRequestConfigRuns(t *testing.T) {
	testsupport.RequirePHP(t)
	rabbit := testsupport.StartRabbitMQ(t) // once for both variants
	redis := testsupport.StartRedis(t)

	for _, server := range []string{"http", "pivot"} {
		t.Run(server, func(t *testing.T) {
			runFeatureRequest(t, server, rabbit, redis.Addr)
		})
	}
}

func runFeatureRequest(t *testing.T, server string, rabbit *testsupport.RabbitMQ, redisAddr string) {
	dir := testsupport.CopyDir(t, "testdata")
	yaml, err := os.ReadFile(filepath.Join(dir, ".rr.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if server == "pivot" {
		// the section and the reload service that names it
		yaml = bytes.Replace(yaml, []byte("\nhttp:\n"), []byte("\npivot:\n"), 1)
		yaml = bytes.Replace(yaml, []byte("\n    http: { recursive"), []byte("\n    pivot: { recursive"), 1)
	}
	httpAddr, metricsAddr := testsupport.FreeAddr(t), testsupport.FreeAddr(t)
	rr := testsupport.StartRR(t, string(yaml), testsupport.RROptions{
		WorkDir: dir,
		Env:     []string{"PIVOT_PHP_AUTOLOAD=" + testsupport.RepoPath(t, "php/autoload.php")},
		Args: []string{
			"-o", server + ".address=" + httpAddr,
			"-o", "metrics.address=" + metricsAddr,
			"-o", "kv.redis.config.addrs=" + redisAddr,
			"-o", "amqp.addr=" + rabbit.Addr,
		},
	})
	base := "http://" + httpAddr
	rr.WaitReady(t, 60*time.Second, testsupport.HTTPAnswers(base+"/version", 200))

	t.Run("the warnings say what was read how", func(t *testing.T) {
		out := rr.Out.String()
		for _, want := range []string{
			"${VAR} or ${VAR:-default} inside { } or [ ]",
			"jobs.pipelines.emails uses RoadRunner 2.x's flat layout",
			"jobs.pipelines.notifications uses RoadRunner 2.x's flat layout",
			"kv.local uses RoadRunner 2.x's flat layout",
			"metrics.collect.app_metric_*: true is not a collector definition",
			"no rpc section", // so rr listens on RoadRunner's default, 127.0.0.1:6001
			"jobs.consume is not set: consuming every pipeline of jobs.pipelines (emails, notifications)",
		} {
			if !strings.Contains(out, want) {
				t.Errorf("rr's output lacks %q", want)
			}
		}
		if strings.Contains(out, "is not read by any plugin") {
			t.Errorf("every section of the file must be read by a plugin:\n%s", grepLines(out, "is not read"))
		}
	})

	t.Run("a static file with ETag", func(t *testing.T) {
		resp, body := testsupport.DoWith(t, testsupport.RawClient, "GET", base+"/robots.txt", nil, nil)
		etag := resp.Header.Get("ETag")
		if resp.StatusCode != 200 || string(body) != "static file for the feature-request test\n" || !strings.HasPrefix(etag, `W/"`) {
			t.Fatalf("static: %d ETag %q body %q", resp.StatusCode, etag, body)
		}
		resp, _ = testsupport.DoWith(t, testsupport.RawClient, "GET", base+"/robots.txt", nil, http.Header{"If-None-Match": {etag}})
		if resp.StatusCode != http.StatusNotModified {
			t.Fatalf("If-None-Match with the ETag: %d, want 304", resp.StatusCode)
		}
	})

	t.Run("a gzipped PHP response", func(t *testing.T) {
		resp, body := testsupport.DoWith(t, testsupport.RawClient, "GET", base+"/big", nil, http.Header{"Accept-Encoding": {"gzip"}})
		if resp.StatusCode != 200 || resp.Header.Get("Content-Encoding") != "gzip" {
			t.Fatalf("GET /big: %d, Content-Encoding %q", resp.StatusCode, resp.Header.Get("Content-Encoding"))
		}
		zr, err := gzip.NewReader(bytes.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		plain, err := io.ReadAll(zr)
		if err != nil {
			t.Fatal(err)
		}
		want := strings.Repeat("All work and no play makes a compressible response.\n", 400)
		if string(plain) != want || len(body) >= len(want)/4 {
			t.Fatalf("gzip body: %d bytes for %d plain, content ok: %v", len(body), len(plain), string(plain) == want)
		}
	})

	t.Run("a job on each pipeline, consumed by PHP", func(t *testing.T) {
		for _, pipeline := range []string{"emails", "notifications"} {
			payload := server + "-" + pipeline
			resp, body := testsupport.Do(t, "POST", base+"/jobs/"+pipeline, strings.NewReader(payload), nil)
			if resp.StatusCode != 200 {
				t.Fatalf("push to %s: %d %s", pipeline, resp.StatusCode, body)
			}
			done := filepath.Join(dir, "state", "done", pipeline, payload)
			testsupport.WaitFor(t, 30*time.Second, "PHP to consume the job on "+pipeline, func() bool {
				b, err := os.ReadFile(done)
				return err == nil && strings.TrimSpace(string(b)) == string(body)
			})
		}
		// the amqp pipeline went through the test's RabbitMQ: its queue is there, and empty
		if n := rabbit.QueueDepth(t, "pivot_notifications"); n != 0 {
			t.Fatalf("pivot_notifications holds %d messages after the job was consumed", n)
		}
	})

	t.Run("both KV storages", func(t *testing.T) {
		for _, storage := range []string{"local", "redis"} {
			value := "value in " + storage + " via " + server
			if resp, body := testsupport.Do(t, "PUT", base+"/kv/"+storage+"/k", strings.NewReader(value), nil); resp.StatusCode != 204 {
				t.Fatalf("PUT %s: %d %s", storage, resp.StatusCode, body)
			}
			if resp, body := testsupport.Do(t, "GET", base+"/kv/"+storage+"/k", nil, nil); resp.StatusCode != 200 || string(body) != value {
				t.Fatalf("GET %s: %d %q", storage, resp.StatusCode, body)
			}
		}
		// the redis storage is the test's Redis (RoadRunner's redis driver stores the value as is)
		cli := testsupport.RequireBinary(t, "redis-cli", "redis-tools")
		host, port, _ := net.SplitHostPort(redisAddr)
		out, err := exec.Command(cli, "-h", host, "-p", port, "GET", "k").Output()
		if want := "value in redis via " + server; err != nil || strings.TrimSpace(string(out)) != want {
			t.Fatalf("redis-cli GET k: %q %v, want %q", out, err, want)
		}
	})

	t.Run("an app_metric_ series", func(t *testing.T) {
		for i := 0; i < 3; i++ {
			if resp, _ := testsupport.Do(t, "GET", base+"/metric", nil, nil); resp.StatusCode != 200 {
				t.Fatalf("GET /metric: %d", resp.StatusCode)
			}
		}
		series := regexp.MustCompile(`(?m)^app_metric_hits_total 3$`)
		testsupport.WaitFor(t, 10*time.Second, "app_metric_hits_total 3 on /metrics", func() bool {
			_, body := testsupport.Do(t, "GET", "http://"+metricsAddr+"/metrics", nil, nil)
			return series.Match(body)
		})
	})

	t.Run("an edit served through reload, no request failed", func(t *testing.T) {
		var (
			stop   atomic.Bool
			failed atomic.Int64
			served atomic.Int64
			wg     sync.WaitGroup
			errMu  sync.Mutex
			errs   []string
		)
		for c := 0; c < 4; c++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for !stop.Load() {
					resp, err := testsupport.Client.Get(base + "/version") //nolint:noctx
					if err == nil {
						_, _ = io.Copy(io.Discard, resp.Body)
						_ = resp.Body.Close()
					}
					if err != nil || resp.StatusCode != 200 {
						failed.Add(1)
						errMu.Lock()
						errs = append(errs, fmt.Sprint(err, resp))
						errMu.Unlock()
						continue
					}
					served.Add(1)
				}
			}()
		}
		time.Sleep(300 * time.Millisecond)
		testsupport.WriteFile(t, filepath.Join(dir, "routes", "web.php"), "<?php\n\ndeclare(strict_types=1);\n\nreturn 'version 2';\n")
		testsupport.WaitFor(t, 20*time.Second, "the edited routes/web.php to be served", func() bool {
			_, body := testsupport.Do(t, "GET", base+"/version", nil, nil)
			return string(body) == "version 2"
		})
		stop.Store(true)
		wg.Wait()
		if n := failed.Load(); n > 0 {
			t.Fatalf("%d of %d requests failed during the reload: %v", n, n+served.Load(), errs[:min(len(errs), 5)])
		}
		t.Logf("%d requests served during the reload, none failed", served.Load())
	})
}

func grepLines(s, sub string) string {
	var out []string
	for _, line := range strings.Split(s, "\n") {
		if strings.Contains(line, sub) {
			out = append(out, line)
		}
	}
	return strings.Join(out, "\n")
}
