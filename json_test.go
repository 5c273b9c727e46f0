package pivot

import (
	"crypto/tls"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"testing"
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

func TestAppendRequestContext(t *testing.T) {
	cases := []struct {
		name   string
		build  func() *http.Request
		parsed bool
		want   decodedContext
	}{
		{
			name: "query, multi-value headers and cookies",
			build: func() *http.Request {
				r := httptest.NewRequest("GET", "/path/x?foo=bar&arr[]=1&n[a][b]=c", nil)
				r.RemoteAddr = "127.0.0.1:5555"
				r.Header.Add("X-Multi", "one")
				r.Header.Add("X-Multi", "two")
				r.Header.Set("Cookie", `sess=abc%20def; other=1; quoted="q"; badv=%zz; plus=a+b`)
				return r
			},
			want: decodedContext{
				RemoteAddr: "127.0.0.1", Protocol: "HTTP/1.1", Method: "GET",
				URI:      "http://example.com/path/x?foo=bar&arr[]=1&n[a][b]=c",
				Headers:  map[string][]string{"X-Multi": {"one", "two"}, "Cookie": {`sess=abc%20def; other=1; quoted="q"; badv=%zz; plus=a+b`}},
				Cookies:  map[string]string{"sess": "abc def", "other": "1", "quoted": "q", "plus": "a b"},
				RawQuery: "foo=bar&arr[]=1&n[a][b]=c", Attributes: map[string]any{},
			},
		},
		{
			name: "ipv6 remote, tls, parsed form",
			build: func() *http.Request {
				r := httptest.NewRequest("POST", "/f", strings.NewReader(""))
				r.RemoteAddr = "[::1]:443"
				r.TLS = &tls.ConnectionState{}
				r.Host = "pivot.test:8443"
				return r
			},
			parsed: true,
			want: decodedContext{
				RemoteAddr: "::1", Protocol: "HTTP/1.1", Method: "POST", URI: "https://pivot.test:8443/f",
				Headers: map[string][]string{}, Cookies: map[string]string{}, Parsed: true, Attributes: map[string]any{},
			},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			out := appendRequestContext(nil, tc.build(), tc.parsed, nil)
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
			h := http.Header{}
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
			if status != tc.status || !reflect.DeepEqual(h, tc.headers) {
				t.Fatalf("got %d %v, want %d %v", status, h, tc.status, tc.headers)
			}
		})
	}
}

func TestMoveTrailers(t *testing.T) {
	h := http.Header{"Trailer": {"X-Checksum, x-other"}, "X-Checksum": {"abc"}, "X-Other": {"1"}, "X-Keep": {"k"}}
	moveTrailers(h)
	want := http.Header{"Trailer:X-Checksum": {"abc"}, "Trailer:X-Other": {"1"}, "X-Keep": {"k"}}
	if !reflect.DeepEqual(h, want) {
		t.Fatalf("got %v", h)
	}
}
