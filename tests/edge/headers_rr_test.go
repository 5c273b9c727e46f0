package edge

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/pivotphp/pivotphp-runtime-roadrunner/internal/testsupport"
	"golang.org/x/net/http2"
)

// pivot.headers against the real ./rr: one rr serves the same PHP worker through pivot's server
// (`pivot:`) and RoadRunner's stock http plugin (`http:`), both with the same `headers` section
// (RoadRunner's keys), and every request is sent to both. Preflights are answered by Go (the
// worker logs every request it gets: no OPTIONS preflight reaches it), the CORS headers of the
// two answers match except where listed below, and the `request` headers reach PHP.

// headersCORS is the cors section both servers get. Its lists have no space after the commas:
// RoadRunner splits them on the comma alone, so "GET, POST" would allow " POST", which no
// request matches (pivot trims each entry: TestHeadersListsWithSpaces).
const headersCORS = `    cors:
      allowed_origin: "https://app.example,https://*.sub.example"
      allowed_headers: "Content-Type,X-Api-Key"
      allowed_methods: "GET,POST,PUT"
      allow_credentials: true
      exposed_headers: "X-Total-Count,Retry-After"
      max_age: 600
`

type headersRR struct {
	*testsupport.RR
	pivot, stock string // base URLs
	hits         string // the worker's log of the requests it got
}

// startHeadersRR runs one rr with pivot and stock http, both with cors (a `cors:` block
// indented for a headers section) and `request`/`response` headers; pivotExtra goes under
// `pivot:`.
func startHeadersRR(t *testing.T, cors, pivotExtra string) *headersRR {
	t.Helper()
	pivotAddr, stockAddr := testsupport.FreeAddr(t), testsupport.FreeAddr(t)
	worker := testsupport.RepoPath(t, "tests/edge/testdata/headers-worker.php")
	hits := filepath.Join(t.TempDir(), "hits")
	headers := func(server string) string {
		return "  middleware: [\"headers\"]\n  headers:\n" + cors +
			"    request:\n      X-Edge-Server: " + server + "\n      X-Edge-Tag: \"edge 1\"\n" +
			"    response:\n      X-Frame-Options: DENY\n"
	}
	yaml := fmt.Sprintf(`version: "3"
server:
  command: "php %s"
  env:
    - PIVOT_TEST_HITS: %s
logs: { mode: production, level: warn }
http:
  address: %s
  pool: { num_workers: 1, allocate_timeout: 30s }
%spivot:
  address: %s
  pool: { num_workers: 1, allocate_timeout: 30s }
%s%s`, worker, hits, stockAddr, headers("stock"), pivotAddr, headers("pivot"), pivotExtra)
	r := &headersRR{RR: testsupport.StartRR(t, yaml, testsupport.RROptions{StopTimeout: 5 * time.Second}),
		pivot: "http://" + pivotAddr, stock: "http://" + stockAddr, hits: hits}
	r.WaitReady(t, 60*time.Second, testsupport.HTTPAnswers(r.pivot+"/ready", 200))
	r.WaitReady(t, 60*time.Second, testsupport.HTTPAnswers(r.stock+"/ready", 200))
	return r
}

// phpGot lists the requests the worker got ("METHOD path server"), and empties the log.
func (r *headersRR) phpGot(t *testing.T) []string {
	t.Helper()
	b, err := os.ReadFile(r.hits)
	if err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
	_ = os.Remove(r.hits)
	var out []string
	for _, l := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		if l != "" && !strings.HasPrefix(l, "GET /ready ") {
			out = append(out, l)
		}
	}
	return out
}

type headersCase struct {
	name    string
	method  string
	path    string
	headers []string // "Name: value"
	body    string
}

// corsHeaders are the parts of an answer the comparison looks at: the status, every
// Access-Control-* header, and Vary's tokens (sorted: where each server puts its own is no
// difference to a browser).
func corsHeaders(resp *http.Response) map[string]string {
	out := map[string]string{"status": fmt.Sprint(resp.StatusCode)}
	for k, v := range resp.Header {
		if strings.HasPrefix(k, "Access-Control-") {
			out[k] = strings.Join(v, " | ")
		}
	}
	var vary []string
	for _, v := range resp.Header.Values("Vary") {
		for _, tok := range strings.Split(v, ",") {
			if tok = strings.TrimSpace(tok); tok != "" {
				vary = append(vary, tok)
			}
		}
	}
	sort.Strings(vary)
	if len(vary) > 0 {
		out["Vary"] = strings.Join(vary, ", ")
	}
	return out
}

func (c headersCase) goRequest(t *testing.T, base string) (*http.Response, []byte) {
	t.Helper()
	h := http.Header{}
	for _, kv := range c.headers {
		k, v, _ := strings.Cut(kv, ": ")
		h.Add(k, v)
	}
	var body io.Reader
	if c.body != "" {
		body = strings.NewReader(c.body)
	}
	return testsupport.Do(t, c.method, base+c.path, body, h)
}

// curlRequest sends the case with curl and reads its answer back with net/http.
func (c headersCase) curlRequest(t *testing.T, base string) (*http.Response, []byte) {
	t.Helper()
	args := []string{"-sS", "-i", "--raw", "--http1.1", "--max-time", "20", "-X", c.method}
	for _, kv := range c.headers {
		args = append(args, "-H", kv)
	}
	if c.body != "" {
		args = append(args, "--data-binary", c.body)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, "curl", append(args, base+c.path)...).Output()
	if err != nil {
		t.Fatalf("curl %v: %v", args, err)
	}
	resp, err := http.ReadResponse(bufio.NewReader(bytes.NewReader(out)), &http.Request{Method: c.method})
	if err != nil {
		t.Fatalf("curl's answer does not parse: %v\n%s", err, out)
	}
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("curl's answer's body: %v", err)
	}
	return resp, b
}

const (
	hOrigin   = "Origin: https://app.example"
	hPreflPUT = "Access-Control-Request-Method: PUT"
)

var headersCases = []headersCase{
	{"preflight allowed", "OPTIONS", "/api", []string{hOrigin, hPreflPUT, "Access-Control-Request-Headers: content-type,x-api-key"}, ""},
	{"preflight, one header", "OPTIONS", "/api", []string{hOrigin, hPreflPUT, "Access-Control-Request-Headers: x-api-key"}, ""},
	{"preflight, wildcard origin", "OPTIONS", "/api", []string{"Origin: https://eu.sub.example", "Access-Control-Request-Method: POST"}, ""},
	{"preflight, origin refused", "OPTIONS", "/api", []string{"Origin: https://evil.example", hPreflPUT}, ""},
	{"preflight, method refused", "OPTIONS", "/api", []string{hOrigin, "Access-Control-Request-Method: DELETE"}, ""},
	{"preflight, header refused", "OPTIONS", "/api", []string{hOrigin, hPreflPUT, "Access-Control-Request-Headers: authorization"}, ""},
	{"preflight without Origin", "OPTIONS", "/api", []string{hPreflPUT}, ""},
	{"GET allowed", "GET", "/api", []string{hOrigin}, ""},
	{"GET, origin in capitals", "GET", "/api", []string{"Origin: HTTPS://APP.EXAMPLE"}, ""},
	{"GET, origin refused", "GET", "/api", []string{"Origin: https://evil.example"}, ""},
	{"GET without Origin", "GET", "/api", nil, ""},
	{"DELETE, method not allowed", "DELETE", "/api", []string{hOrigin}, ""},
	{"POST with a body", "POST", "/api", []string{hOrigin, "Content-Type: application/json"}, `{"a":1}`},
	{"POST, chunked with curl", "POST", "/api", []string{hOrigin, "Content-Type: text/plain", "Transfer-Encoding: chunked"}, "a chunked body"},
	{"OPTIONS that is no preflight", "OPTIONS", "/api", []string{hOrigin}, ""},
	{"streamed response", "GET", "/stream", []string{hOrigin}, ""},
}

// headersConfigs are the cors sections compared: lists, every origin with RoadRunner's
// defaults, a regex with any header and a 204.
var headersConfigs = []struct{ name, cors string }{
	{"lists", headersCORS},
	{"defaults", "    cors:\n      allowed_origin: \"*\"\n"},
	{"regex", "    cors:\n      allowed_origin_regex: \"^https://(app|eu\\\\.sub)\\\\.example$\"\n      allowed_headers: \"*\"\n" +
		"      allowed_methods: \"GET,PUT,DELETE\"\n      options_success_status: 204\n      max_age: 60\n"},
}

func TestHeadersAgainstStockRoadRunner(t *testing.T) {
	testsupport.RequireBinary(t, "curl", "curl")
	for _, cfg := range headersConfigs {
		t.Run(cfg.name, func(t *testing.T) { headersCompare(t, cfg.cors) })
	}
}

func headersCompare(t *testing.T, cors string) {
	r := startHeadersRR(t, cors, "")
	r.phpGot(t)
	for _, c := range headersCases {
		t.Run(c.name, func(t *testing.T) {
			preflight := c.method == "OPTIONS" && strings.Contains(strings.Join(c.headers, "\n"), "Access-Control-Request-Method")
			stockResp, _ := c.goRequest(t, r.stock)
			stockGot := r.phpGot(t)
			goResp, goBody := c.goRequest(t, r.pivot)
			pivotGot := r.phpGot(t)
			curlResp, curlBody := c.curlRequest(t, r.pivot)
			curlGot := r.phpGot(t)

			stock, viaGo, viaCurl := corsHeaders(stockResp), corsHeaders(goResp), corsHeaders(curlResp)
			t.Logf("pivot %v", viaGo)
			if fmt.Sprint(viaGo) != fmt.Sprint(viaCurl) {
				t.Errorf("pivot answered Go's client and curl differently:\n go:   %v\n curl: %v", viaGo, viaCurl)
			}
			if fmt.Sprint(viaGo) != fmt.Sprint(stock) {
				t.Errorf("CORS headers differ from stock RoadRunner's:\n pivot: %v\n stock: %v", viaGo, stock)
			}
			for _, resp := range []*http.Response{goResp, curlResp, stockResp} {
				if resp.Header.Get("X-Frame-Options") != "DENY" {
					t.Errorf("pivot.headers.response missing: %v", resp.Header)
				}
			}

			// PHP: never a preflight; every other request once, with the request headers
			wantGot := []string{c.method + " " + c.path + " pivot"}
			if preflight {
				wantGot = nil
				if len(goBody) != 0 || len(curlBody) != 0 {
					t.Errorf("a preflight's answer has a body: %q %q", goBody, curlBody)
				}
			}
			if strings.Join(pivotGot, ";") != strings.Join(wantGot, ";") || strings.Join(curlGot, ";") != strings.Join(wantGot, ";") {
				t.Errorf("PHP got %q (Go) and %q (curl), want %q", pivotGot, curlGot, wantGot)
			}
			if preflight && len(stockGot) != 0 {
				t.Errorf("stock RoadRunner let a preflight reach PHP: %q", stockGot)
			}
			if !preflight {
				for _, body := range [][]byte{goBody, curlBody} {
					var saw struct {
						Headers map[string][]string `json:"headers"`
						Body    string              `json:"body"`
					}
					if err := json.Unmarshal(body, &saw); err != nil {
						t.Fatalf("worker's answer %q: %v", body, err)
					}
					if saw.Body != c.body {
						t.Errorf("PHP got the body %q, want %q", saw.Body, c.body)
					}
					if got := saw.Headers["X-Edge-Tag"]; len(got) != 1 || got[0] != "edge 1" {
						t.Errorf("PHP saw X-Edge-Tag %q, want [\"edge 1\"] (all: %v)", got, saw.Headers)
					}
				}
			}
		})
	}
}

// What differs from stock RoadRunner, on purpose: PHP's own Access-Control-Allow-Origin is
// replaced by the edge's (RoadRunner sends both values, which browsers refuse), and a response
// header of the config replaces PHP's (RoadRunner sends both).
func TestHeadersListedDifferences(t *testing.T) {
	r := startHeadersRR(t, headersCORS, "")
	c := headersCase{"PHP sets its own CORS", "GET", "/php-cors", []string{hOrigin}, ""}
	stock, _ := c.goRequest(t, r.stock)
	pivot, _ := c.goRequest(t, r.pivot)
	if got := pivot.Header.Values("Access-Control-Allow-Origin"); len(got) != 1 || got[0] != "https://app.example" {
		t.Errorf("pivot's Access-Control-Allow-Origin %q, want only the edge's", got)
	}
	if got := stock.Header.Values("Access-Control-Allow-Origin"); len(got) != 2 {
		t.Logf("stock RoadRunner's Access-Control-Allow-Origin is now %q (it sent rs/cors' and PHP's)", got)
	}
	if got := corsHeaders(pivot)["Vary"]; got != "Accept-Language, Origin" {
		t.Errorf("pivot's Vary tokens %q, want PHP's and Origin", got)
	}
	if got := corsHeaders(stock)["Vary"]; got != "Accept-Language, Origin" {
		t.Errorf("stock's Vary tokens %q, want PHP's and Origin", got)
	}
}

// Lists written with spaces ("GET, POST, PUT") work on pivot; on RoadRunner every entry after
// the first keeps its space and never matches (the difference is pivot's, on purpose).
func TestHeadersListsWithSpaces(t *testing.T) {
	cors := `    cors:
      allowed_origin: "https://app.example, https://other.example"
      allowed_headers: "Content-Type, X-Api-Key"
      allowed_methods: "GET, POST, PUT"
`
	r := startHeadersRR(t, cors, "")
	c := headersCase{"", "OPTIONS", "/api", []string{"Origin: https://other.example", hPreflPUT, "Access-Control-Request-Headers: x-api-key"}, ""}
	pivot, _ := c.curlRequest(t, r.pivot)
	if pivot.Header.Get("Access-Control-Allow-Origin") != "https://other.example" || pivot.Header.Get("Access-Control-Allow-Methods") != "PUT" ||
		pivot.Header.Get("Access-Control-Allow-Headers") != "X-Api-Key" {
		t.Errorf("pivot refused a preflight its lists allow: %v", pivot.Header)
	}
	stock, _ := c.goRequest(t, r.stock)
	if stock.Header.Get("Access-Control-Allow-Origin") != "" {
		t.Logf("stock RoadRunner now trims its lists too: %v", stock.Header)
	}
}

// With pivot.limit around PHP, its 429 carries the CORS headers (so a page's script can read
// it and its Retry-After, listed in exposed_headers); a preflight uses no budget.
func TestHeadersOnALimitedResponse(t *testing.T) {
	r := startHeadersRR(t, headersCORS, "  limit:\n    rate: 1000\n    burst: 1000\n    routes:\n      - { prefix: /limited, rate: 0.01, burst: 1 }\n")
	pre := headersCase{"", "OPTIONS", "/limited", []string{hOrigin, hPreflPUT}, ""}
	for i := 0; i < 3; i++ {
		if resp, _ := pre.curlRequest(t, r.pivot); resp.StatusCode != 200 || resp.Header.Get("Access-Control-Allow-Origin") != "https://app.example" {
			t.Fatalf("preflight %d: %d %v", i, resp.StatusCode, resp.Header)
		}
	}
	get := headersCase{"", "GET", "/limited", []string{hOrigin}, ""}
	if resp, _ := get.goRequest(t, r.pivot); resp.StatusCode != 200 {
		t.Fatalf("first GET after 3 preflights: %d (the preflights used the budget?)", resp.StatusCode)
	}
	resp, _ := get.curlRequest(t, r.pivot)
	if resp.StatusCode != 429 || resp.Header.Get("Retry-After") == "" {
		t.Fatalf("second GET: %d %v, want 429 with Retry-After", resp.StatusCode, resp.Header)
	}
	for k, v := range map[string]string{"Access-Control-Allow-Origin": "https://app.example", "Access-Control-Allow-Credentials": "true",
		"Access-Control-Expose-Headers": "X-Total-Count, Retry-After", "X-Frame-Options": "DENY"} {
		if got := resp.Header.Get(k); got != v {
			t.Errorf("429's %s: %q, want %q", k, got, v)
		}
	}
}

// Over h2c (pivot.http2.h2c: the net/http side, its requests adapted onto the same chain) a
// preflight is answered by Go and the request headers reach PHP, as over HTTP/1.1.
func TestHeadersOverH2C(t *testing.T) {
	r := startHeadersRR(t, headersCORS, "  http2:\n    h2c: true\n")
	r.phpGot(t)
	h2c := &http.Client{Timeout: 20 * time.Second, Transport: &http2.Transport{AllowHTTP: true,
		DialTLSContext: func(ctx context.Context, network, addr string, _ *tls.Config) (net.Conn, error) {
			return (&net.Dialer{}).DialContext(ctx, network, addr)
		}}}
	pre := headersCase{"", "OPTIONS", "/api", []string{hOrigin, hPreflPUT, "Access-Control-Request-Headers: x-api-key"}, ""}
	h := http.Header{}
	for _, kv := range pre.headers {
		k, v, _ := strings.Cut(kv, ": ")
		h.Set(k, v)
	}
	resp, _ := testsupport.DoWith(t, h2c, "OPTIONS", r.pivot+"/api", nil, h)
	if resp.ProtoMajor != 2 || resp.StatusCode != 200 || resp.Header.Get("Access-Control-Allow-Origin") != "https://app.example" ||
		resp.Header.Get("Access-Control-Allow-Headers") != "X-Api-Key" || resp.Header.Get("X-Frame-Options") != "DENY" {
		t.Fatalf("h2c preflight: %s %d %v", resp.Proto, resp.StatusCode, resp.Header)
	}
	resp, body := testsupport.DoWith(t, h2c, "GET", r.pivot+"/api", nil, http.Header{"Origin": {"https://app.example"}})
	if resp.ProtoMajor != 2 || resp.Header.Get("Access-Control-Allow-Origin") != "https://app.example" || resp.Header.Get("Vary") != "Origin" {
		t.Fatalf("h2c GET: %s %v", resp.Proto, resp.Header)
	}
	var saw struct {
		Headers map[string][]string `json:"headers"`
	}
	if err := json.Unmarshal(body, &saw); err != nil || strings.Join(saw.Headers["X-Edge-Tag"], ",") != "edge 1" {
		t.Fatalf("PHP saw %v (%v) over h2c", saw.Headers, err)
	}
	if got := strings.Join(r.phpGot(t), ";"); got != "GET /api pivot" {
		t.Fatalf("PHP got %q, want only the GET", got)
	}
}
