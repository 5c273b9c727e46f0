package httpfront

import (
	"bufio"
	"encoding/json"
	"net"
	"reflect"
	"strings"
	"testing"

	"github.com/valyala/fasthttp"
)

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
func requestCtx(t testing.TB, raw string, remote net.Addr) *fasthttp.RequestCtx {
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

// The exact bytes for a plain GET: tests/integration's BenchmarkPoolRoundTrip sends these to
// the hello worker as the front's request, so they must stay what the front writes.
func TestAppendRequestContextPlainGETBytes(t *testing.T) {
	const want = `{"remoteAddr":"127.0.0.1","protocol":"HTTP/1.1","method":"GET",` +
		`"uri":"http://127.0.0.1:8080/hello","headers":{},"cookies":{},"rawQuery":"","parsed":false,` +
		`"uploads":null,"attributes":{}}`
	c := requestCtx(t, "GET /hello HTTP/1.1\r\nHost: 127.0.0.1:8080\r\n\r\n", &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 40000})
	if got, _ := appendRequestContext(nil, c, nil, false, nil); string(got) != want {
		t.Fatalf("context\n got %s\nwant %s", got, want)
	}
}
