package pivot

import (
	"bufio"
	"encoding/json"
	"net"
	"net/http"
	"net/textproto"
	"reflect"
	"strings"
	"testing"

	"github.com/valyala/fasthttp"
)

func TestAppendJSONStringMatchesEncodingJSON(t *testing.T) {
	cases := []struct {
		name, in string
	}{
		{"plain", "hello"},
		{"empty", ""},
		{"quotes and backslash", `a"b\c`},
		{"control characters", "a\nb\rc\td\x00e\x1f"},
		{"unicode", "héllo wörld ✓ 😀"},
		{"html is kept", "<a href='x'>&</a>"},
		{"line separators", "a\u2028b\u2029c"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got := appendJSONString(nil, tc.in)
			var back string
			if err := json.Unmarshal(got, &back); err != nil {
				t.Fatalf("%s is not valid JSON: %v", got, err)
			}
			if back != tc.in {
				t.Fatalf("round trip: got %q, want %q", back, tc.in)
			}
		})
	}
}

func TestAppendJSONStringReplacesInvalidUTF8(t *testing.T) {
	got := appendJSONString(nil, "a\xffb\xc3")
	var back string
	if err := json.Unmarshal(got, &back); err != nil {
		t.Fatalf("%s is not valid JSON: %v", got, err)
	}
	if back != "a\uFFFDb\uFFFD" {
		t.Fatalf("got %q", back)
	}
}

// decodedContext mirrors the http/v4 request context that PHP decodes.
type decodedContext struct {
	RemoteAddr string              `json:"remoteAddr"`
	Protocol   string              `json:"protocol"`
	Method     string              `json:"method"`
	URI        string              `json:"uri"`
	Headers    map[string][]string `json:"headers"`
	Cookies    map[string]string   `json:"cookies"`
	RawQuery   string              `json:"rawQuery"`
	Parsed     bool                `json:"parsed"`
	Uploads    any                 `json:"uploads"`
	Attributes map[string]any      `json:"attributes"`
}

// requestCtx parses a raw HTTP request into the fasthttp context the handler gets.
func requestCtx(t *testing.T, raw string, remote net.Addr) *fasthttp.RequestCtx {
	t.Helper()
	var req fasthttp.Request
	if err := req.Read(bufio.NewReader(strings.NewReader(raw))); err != nil {
		t.Fatalf("request %q: %v", raw, err)
	}
	c := &fasthttp.RequestCtx{}
	c.Init(&req, remote, nil)
	return c
}

func TestAppendRequestContext(t *testing.T) {
	cases := []struct {
		name   string
		raw    string
		remote net.Addr
		parsed bool
		want   decodedContext
	}{
		{
			name: "query, multi-value headers and cookies",
			raw: "GET /path/x?foo=bar&arr[]=1&n[a][b]=c HTTP/1.1\r\nHost: example.com\r\nX-Multi: one\r\n" +
				"x-lower:  v \r\nx-multi: two\r\nCookie: sess=abc%20def; other=1; quoted=\"q\"; badv=%zz\r\nCookie: plus=a+b\r\n\r\n",
			remote: &net.TCPAddr{IP: net.ParseIP("127.0.0.1"), Port: 5555},
			want: decodedContext{
				RemoteAddr: "127.0.0.1", Protocol: "HTTP/1.1", Method: "GET",
				URI: "http://example.com/path/x?foo=bar&arr[]=1&n[a][b]=c",
				Headers: map[string][]string{"X-Multi": {"one", "two"}, "X-Lower": {"v"},
					"Cookie": {`sess=abc%20def; other=1; quoted="q"; badv=%zz`, "plus=a+b"}},
				Cookies:  map[string]string{"sess": "abc def", "other": "1", "quoted": "q", "plus": "a b"},
				RawQuery: "foo=bar&arr[]=1&n[a][b]=c", Attributes: map[string]any{},
			},
		},
		{
			name:   "ipv6 remote, http/1.0, parsed form",
			raw:    "POST /f HTTP/1.0\r\nHost: pivot.test:8443\r\nContent-Length: 0\r\n\r\n",
			remote: &net.TCPAddr{IP: net.ParseIP("::1"), Port: 443},
			parsed: true,
			want: decodedContext{
				RemoteAddr: "::1", Protocol: "HTTP/1.0", Method: "POST", URI: "http://pivot.test:8443/f",
				Headers: map[string][]string{"Content-Length": {"0"}}, Cookies: map[string]string{}, Parsed: true, Attributes: map[string]any{},
			},
		},
		{
			name:   "ipv4-mapped remote, absolute-form target",
			raw:    "GET http://other.test/a?b HTTP/1.1\r\nHost: other.test\r\n\r\n",
			remote: &net.TCPAddr{IP: net.ParseIP("::ffff:10.0.0.1"), Port: 1},
			want: decodedContext{
				RemoteAddr: "10.0.0.1", Protocol: "HTTP/1.1", Method: "GET", URI: "http://other.test/a?b",
				Headers: map[string][]string{}, Cookies: map[string]string{}, RawQuery: "b", Attributes: map[string]any{},
			},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			out, _ := appendRequestContext(nil, requestCtx(t, tc.raw, tc.remote), nil, tc.parsed, nil)
			var got decodedContext
			if err := json.Unmarshal(out, &got); err != nil {
				t.Fatalf("%s: %v", out, err)
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Fatalf("got  %+v\nwant %+v\njson %s", got, tc.want, out)
			}
		})
	}
}

func TestAppendCanonicalHeaderName(t *testing.T) {
	for _, name := range []string{"content-type", "X-FORWARDED-FOR", "x-a-b", "accept", "x_under", "bad name", "-x", "é"} {
		got := appendCanonicalHeaderName(nil, []byte(name))
		want, _ := json.Marshal(textproto.CanonicalMIMEHeaderKey(name))
		if `"`+string(got)+`"` != string(want) {
			t.Errorf("%q: got %s, want %s", name, got, want)
		}
	}
}

// headerMap collects response headers as net/http would hold them.
type headerMap http.Header

func (h headerMap) addHeader(name, value string) {
	k := textproto.CanonicalMIMEHeaderKey(name)
	h[k] = append(h[k], value)
}

func TestApplyResponseContext(t *testing.T) {
	cases := []struct {
		name    string
		ctx     string
		status  int
		headers http.Header
		wantErr bool
	}{
		{"status and headers", `{"status":201,"headers":{"Content-Type":["application/json"],"Set-Cookie":["a=1","b=2"]}}`,
			201, http.Header{"Content-Type": {"application/json"}, "Set-Cookie": {"a=1", "b=2"}}, false},
		{"php empty headers array", `{"status":200,"headers":[]}`, 200, http.Header{}, false},
		{"null headers", `{"status":404,"headers":null}`, 404, http.Header{}, false},
		{"no status", `{"headers":{"x-lower":["v"]}}`, 0, http.Header{"X-Lower": {"v"}}, false},
		{"escaped values", `{"status":200,"headers":{"Location":["http:\/\/x\/y?a=\u00e9\"q"]}}`,
			200, http.Header{"Location": {`http://x/y?a=é"q`}}, false},
		{"surrogate pair", `{"status":200,"headers":{"X-E":["\ud83d\ude00"]}}`, 200, http.Header{"X-E": {"😀"}}, false},
		{"scalar header values", `{"status":200,"headers":{"X-Num":[13],"X-One":"single"}}`,
			200, http.Header{"X-Num": {"13"}, "X-One": {"single"}}, false},
		{"unknown keys skipped", `{"extra":{"a":[1,{"b":"}"}]},"status":202,"headers":{}}`, 202, http.Header{}, false},
		{"whitespace", " { \"status\" : 200 , \"headers\" : { \"A\" : [ \"1\" ] } } ", 200, http.Header{"A": {"1"}}, false},
		{"not an object", `[1,2]`, 0, nil, true},
		{"truncated", `{"status":200,"headers":{"A":["1"`, 0, nil, true},
		{"bad status", `{"status":"x"}`, 0, nil, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			h := headerMap{}
			status, err := applyResponseContext([]byte(tc.ctx), h)
			if tc.wantErr {
				if err == nil {
					t.Fatalf("want an error, got status %d headers %v", status, h)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if status != tc.status || !reflect.DeepEqual(http.Header(h), tc.headers) {
				t.Fatalf("got %d %v, want %d %v", status, h, tc.status, tc.headers)
			}
		})
	}
}
