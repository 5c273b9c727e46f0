package pivot

import (
	"strings"
	"testing"

	"github.com/pivotphp/pivotphp-runtime-roadrunner/internal/edge/breaker"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/valyala/fasthttp"
)

const headersHead = "server:\n  command: php worker.php\npivot:\n  address: 127.0.0.1:0\n  middleware: [headers]\n"

// pivot.headers decodes as RoadRunner's http.headers is written, and is wired.
func TestInitDecodesHeaders(t *testing.T) {
	yaml := headersHead + "  headers:\n    cors:\n      allowed_origin: \"https://a.example, https://*.b.example\"\n" +
		"      allowed_headers: \"Content-Type,Authorization\"\n      allowed_methods: \"get,POST,PUT\"\n" +
		"      allow_credentials: true\n      exposed_headers: \"x-total-count,Retry-After\"\n      max_age: 600\n" +
		"    request:\n      X-Edge: pivot\n    response:\n      X-Frame-Options: DENY\n"
	p := &Plugin{}
	if err := p.Init(pluginConfig(t, yaml), testLogger{}, testServer{}); err != nil {
		t.Fatal(err)
	}
	c := p.cfg.Headers.CORS
	if c == nil || c.AllowedOrigin != "https://a.example, https://*.b.example" || c.MaxAge != 600 || !c.AllowCredentials ||
		c.OptionsSuccessStatus != 200 || p.cfg.Headers.Request["x-edge"] != "pivot" || p.cfg.Headers.Response["x-frame-options"] != "DENY" {
		t.Fatalf("headers %+v cors %+v", p.cfg.Headers, c)
	}
	if w := strings.Join(p.cfg.Warnings(), "\n"); w != "" {
		t.Errorf("warnings for a sound config: %s", w)
	}
	// wired: a preflight is answered without the front
	rc := &fasthttp.RequestCtx{}
	rc.Request.Header.SetMethod("OPTIONS")
	rc.Request.SetRequestURI("/x")
	rc.Request.Header.Set("Origin", "https://app.b.example")
	rc.Request.Header.Set("Access-Control-Request-Method", "PUT")
	p.handler(rc)
	if rc.Response.StatusCode() != 200 || string(rc.Response.Header.Peek("Access-Control-Allow-Origin")) != "https://app.b.example" ||
		string(rc.Response.Header.Peek("X-Frame-Options")) != "DENY" {
		t.Fatalf("preflight through the plugin's handler: %s", rc.Response.Header.String())
	}
}

// Every mistake in pivot.headers names its key and the fix.
func TestBadHeadersConfigNamesTheKey(t *testing.T) {
	cases := []struct {
		name, body string
		want       []string
	}{
		{"typo", "    cors:\n      allowed_orign: \"*\"\n", []string{"pivot.headers.cors.allowed_orign: unknown key", "did you mean allowed_origin?"}},
		{"typo in the section", "    respones:\n      X-A: b\n", []string{"pivot.headers.respones: unknown key", "did you mean response?"}},
		{"max_age not a number", "    cors:\n      max_age: ten\n", []string{"pivot.headers.cors.max_age", "is not a whole number"}},
		{"origins as a list", "    cors:\n      allowed_origin: [\"https://a.example\", \"https://b.example\"]\n", []string{"pivot.headers.cors.allowed_origin is a list", `allowed_origin: "https://a.example,https://b.example"`}},
		{"bad regex", "    cors:\n      allowed_origin_regex: \"^https://(a|b\"\n", []string{"pivot.headers.cors.allowed_origin_regex", "not a regular expression", "Go's syntax"}},
		{"negative max_age", "    cors:\n      max_age: -1\n", []string{"pivot.headers.cors.max_age is -1", "use 0"}},
		{"status not 2xx", "    cors:\n      options_success_status: 404\n", []string{"pivot.headers.cors.options_success_status is 404", "2xx", "204"}},
		{"origin with a path", "    cors:\n      allowed_origin: \"https://a.example/\"\n", []string{"pivot.headers.cors.allowed_origin \"https://a.example/\" has a path", "write https://a.example"}},
		{"origin without scheme", "    cors:\n      allowed_origin: \"a.example\"\n", []string{"pivot.headers.cors.allowed_origin \"a.example\" is not an origin", "scheme://host"}},
		{"two wildcards", "    cors:\n      allowed_origin: \"https://*.*.example\"\n", []string{"pivot.headers.cors.allowed_origin", "more than one *", "allowed_origin_regex"}},
		{"bad header name", "    cors:\n      allowed_headers: \"Content-Type,X Y\"\n", []string{"pivot.headers.cors.allowed_headers: \"X Y\" is not a header name"}},
		{"star method", "    cors:\n      allowed_methods: \"*\"\n", []string{"pivot.headers.cors.allowed_methods: \"*\" is not a method", "GET,POST"}},
		{"bad exposed header", "    cors:\n      exposed_headers: \"X-Total-Count;\"\n", []string{"pivot.headers.cors.exposed_headers", "not a header name"}},
		{"bad request header name", "    request:\n      \"X(Bad)\": v\n", []string{"pivot.headers.request", "not a valid header name"}},
		{"response value with a line break", "    response:\n      X-A: \"a\\r\\nSet-Cookie: x=1\"\n", []string{"pivot.headers.response.x-a", "line break"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			p := &Plugin{}
			err := p.Init(pluginConfig(t, headersHead+"  headers:\n"+tc.body), testLogger{}, testServer{})
			if err == nil {
				t.Fatal("Init accepted it")
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not say %q", err, w)
				}
			}
		})
	}
}

func TestHeadersWarnings(t *testing.T) {
	cases := []struct{ name, yaml, want string }{
		{"section without the middleware", strings.Replace(headersHead, "  middleware: [headers]\n", "", 1) + "  headers:\n    response: { X-A: b }\n",
			`pivot.middleware does not list "headers"`},
		{"middleware without the section", headersHead, `no pivot.headers section: it does nothing`},
		{"credentials with every origin", headersHead + "  headers:\n    cors:\n      allow_credentials: true\n", "browsers refuse"},
		{"regex beside origins", headersHead + "  headers:\n    cors:\n      allowed_origin: \"https://a.example\"\n      allowed_origin_regex: \"^https://b\"\n",
			"allowed_origin is ignored"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			p := &Plugin{}
			if err := p.Init(pluginConfig(t, tc.yaml), testLogger{}, testServer{}); err != nil {
				t.Fatal(err)
			}
			if w := strings.Join(p.cfg.Warnings(), "\n"); !strings.Contains(w, tc.want) {
				t.Errorf("warnings %q do not say %q", w, tc.want)
			}
		})
	}
}

// rr_pivot_breaker_transitions_total counts the breakers' changes of state by route, from, to.
func TestBreakerTransitionsMetric(t *testing.T) {
	yaml := "server:\n  command: php worker.php\npivot:\n  address: 127.0.0.1:0\n" +
		"  breaker:\n    failure_ratio: 0.5\n    min_requests: 2\n    open_for: 1m\n"
	p := &Plugin{}
	if err := p.Init(pluginConfig(t, yaml), testLogger{}, testServer{}); err != nil {
		t.Fatal(err)
	}
	h := p.breakers.Middleware(func(c *fasthttp.RequestCtx) { c.SetStatusCode(500) })
	for i := 0; i < 3; i++ {
		h(&fasthttp.RequestCtx{})
	}
	found := false
	for _, c := range p.MetricsCollector() {
		if c == p.metrics.breakerChanges {
			found = true
		}
	}
	if !found {
		t.Fatal("rr_pivot_breaker_transitions_total is not handed to the metrics plugin")
	}
	if n := testutil.ToFloat64(p.metrics.breakerChanges.WithLabelValues(breaker.DefaultRoute, "closed", "open")); n != 1 {
		t.Fatalf("closed→open counted %v times, want 1", n)
	}
	if n := testutil.CollectAndCount(p.metrics.breakerChanges, "rr_pivot_breaker_transitions_total"); n != 1 {
		t.Fatalf("%d series, want 1", n)
	}
}
