package protocol

import (
	"net/http"
	"net/textproto"
	"reflect"
	"testing"
)

// headerMap collects response headers as net/http would hold them.
type headerMap http.Header

func (h headerMap) AddHeader(name, value string) {
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
			status, err := ApplyResponseContext([]byte(tc.ctx), h)
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
