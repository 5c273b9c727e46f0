package protocol

import (
	"bufio"
	"bytes"
	"encoding/json"
	"net"
	"net/http"
	"net/netip"
	"net/textproto"
	"net/url"
	"reflect"
	"strings"
	"testing"

	"golang.org/x/net/http/httpguts"
)

// validRunes is what a string becomes through AppendJSONString and a JSON decoder: each byte of
// invalid UTF-8 turns into U+FFFD.
func validRunes(s string) string { return string([]rune(s)) }

// wellFormedFields reports whether raw is a header block the framing check (internal/http1)
// lets through: "name: value" lines, a token before the colon, no folding, no CTL but HTAB in
// a value. Only such blocks reach ParseHeaderFields.
func wellFormedFields(raw []byte) bool {
	for _, line := range bytes.Split(raw, []byte("\r\n")) {
		if len(line) == 0 {
			return false // the block ends at its first empty line
		}
		name, value, ok := bytes.Cut(line, []byte(":"))
		if !ok || !httpguts.ValidHeaderFieldName(string(name)) || !httpguts.ValidHeaderFieldValue(string(value)) {
			return false
		}
	}
	return true
}

// FuzzHeaderFields: a request's header block through ParseHeaderFields, AppendHeaderGroups and
// AppendCookies. For any bytes: no panic, and both JSON objects are valid. For a block the
// framing check lets through: the header groups equal net/textproto's ReadMIMEHeader (so
// net/http's Request.Header) without Host and Transfer-Encoding, names canonical, values in
// order, byte for byte (invalid UTF-8 as U+FFFD); the cookies equal net/http's
// Request.Cookies() on the same header, with RoadRunner's rules on top:
//   - a value is URL-unescaped (url.QueryUnescape) when it holds '%' or '+', and the cookie is
//     dropped when it does not unescape (net/http keeps the raw value);
//   - a later cookie of the same name wins (PHP's json_decode keeps the last member);
//   - deliberate difference: spaces between a name and its '=' are trimmed ("a =1" is cookie a),
//     where net/http drops the cookie (its name "a " is not a token).
func FuzzHeaderFields(f *testing.F) {
	seeds := []string{
		"Host: x\r\nX-Multi: one\r\nx-multi: two\r\nCookie: a=1; b=\"q\"; c=%20x; d=a+b; e=%zz\r\nCookie: a=2",
		"content-type: text/plain\r\nTransfer-Encoding: chunked\r\nX--Y: 1\r\nx-ab-cd: 2",
		// CRLF injection and NUL (the framing check refuses these; no panic, valid JSON)
		"X: a\r\nSet-Cookie: evil=1\r\nY: b\rZ: c\nW: \x00",
		"Cookie: a=b\r\nX: v\r\n\r\nInjected: 1",
		// invalid UTF-8 and obs-text, non-ASCII white space at a value's ends
		"X: \xff\xfe\r\nY: caf\xc3\xa9\r\nZ: a\xc2\xa0\r\nW: \xc2\x85b",
		"Cookie: \xff=1; a=\xff; b=%ff",
		// empty names and values, odd cookie syntax
		": v\r\nX:\r\nCookie: ; ;=1; a; =; a =1; b= 2; c=\"\"; d=\"; e=a\"b",
		"Cookie: " + strings.Repeat("k=v; ", 50),
		// many fields: AppendHeaderGroups' map path
		strings.Repeat("X-A: 1\r\nx-b: 2\r\n", 20),
		"X: \\ud800 \\u0000 \"quoted\" \t tab",
	}
	for _, s := range seeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		fields := ParseHeaderFields(nil, raw)
		groups := append(AppendHeaderGroups([]byte{'{'}, fields), '}')
		cookies := append(AppendCookies([]byte{'{'}, fields), '}')
		if !json.Valid(groups) || !json.Valid(cookies) {
			t.Fatalf("%q: invalid JSON\n%s\n%s", raw, groups, cookies)
		}
		if !wellFormedFields(raw) {
			return
		}
		mh, err := textproto.NewReader(bufio.NewReader(bytes.NewReader(append(append([]byte{}, raw...), "\r\n\r\n"...)))).ReadMIMEHeader()
		if err != nil {
			t.Fatalf("%q: well-formed, but net/textproto refuses it: %v", raw, err)
		}

		var gotGroups map[string][]string
		if err := json.Unmarshal(groups, &gotGroups); err != nil {
			t.Fatal(err)
		}
		want := map[string][]string{}
		for k, vs := range mh {
			if k == "Host" || k == "Transfer-Encoding" {
				continue
			}
			for _, v := range vs {
				want[k] = append(want[k], validRunes(v))
			}
		}
		if !reflect.DeepEqual(gotGroups, want) {
			t.Fatalf("%q: header groups\n got %q\nwant %q", raw, gotGroups, want)
		}

		var gotCookies map[string]string
		if err := json.Unmarshal(cookies, &gotCookies); err != nil {
			t.Fatal(err)
		}
		// the deliberate difference: net/http reads "a =1" as a cookie named "a " (refused)
		cookieHeader := http.Header{}
		for _, line := range mh["Cookie"] {
			parts := strings.Split(line, ";")
			for i, p := range parts {
				if name, value, ok := strings.Cut(p, "="); ok {
					parts[i] = strings.TrimRight(name, " \t") + "=" + value
				}
			}
			cookieHeader.Add("Cookie", strings.Join(parts, ";"))
		}
		wantCookies := map[string]string{}
		for _, c := range (&http.Request{Header: cookieHeader}).Cookies() {
			v := c.Value
			if strings.ContainsAny(v, "%+") {
				if v, err = url.QueryUnescape(v); err != nil {
					continue
				}
			}
			wantCookies[c.Name] = validRunes(v)
		}
		if !reflect.DeepEqual(gotCookies, wantCookies) {
			t.Fatalf("%q: cookies\n got %q\nwant %q", raw, gotCookies, wantCookies)
		}
	})
}

// stringAddr is a net.Addr of any text (a unix socket, a listener of another kind).
type stringAddr string

func (stringAddr) Network() string  { return "other" }
func (a stringAddr) String() string { return string(a) }

// FuzzAppendRemoteIP: the client IP written into the request context, against what net/http
// gives PHP through RoadRunner (Request.RemoteAddr is the connection's address as text, and
// RoadRunner keeps its host). For a TCP peer: the IP as netip parses it from "host:port",
// IPv4-mapped IPv6 as IPv4. Deliberate differences: an IPv6 zone is dropped ("fe80::1", not
// "fe80::1%eth0"), and an IP of neither 4 nor 16 bytes (never from a socket) gives "", not
// net.IP's "?hex". For any other address: the host of "host:port", or the whole text when it has
// no port; always valid inside a JSON string.
func FuzzAppendRemoteIP(f *testing.F) {
	f.Add([]byte{127, 0, 0, 1}, 80, "", "127.0.0.1:80")
	f.Add([]byte(net.ParseIP("::ffff:10.0.0.1")), 1, "", "[::1]:443")
	f.Add([]byte(net.ParseIP("fe80::1")), 443, "eth0", "/run/pivot.sock")
	f.Add([]byte{1, 2, 3}, 0, "", "@")
	f.Add([]byte(net.ParseIP("::1")), 65535, "a\"b\\c\x00\xff", "[fe80::1%eth0]:1")
	f.Add([]byte{}, -1, "", "a\r\nb:\xff")
	f.Fuzz(func(t *testing.T, ip []byte, port int, zone, other string) {
		tcp := &net.TCPAddr{IP: ip, Port: port, Zone: zone}
		got := string(AppendRemoteIP(nil, tcp))
		if len(ip) == 4 || len(ip) == 16 {
			// the host net/http's RemoteAddr holds for this peer, its zone aside
			want, err := netip.ParseAddr(net.IP(ip).String())
			if err != nil {
				t.Fatalf("%v: %v", tcp, err)
			}
			if got != want.Unmap().String() {
				t.Fatalf("%v: %q, want %q", tcp, got, want.Unmap())
			}
		} else if got != "" {
			t.Fatalf("%v (%d bytes): %q", tcp, len(ip), got)
		}

		out := AppendRemoteIP([]byte{'"'}, stringAddr(other))
		var decoded string
		if err := json.Unmarshal(append(out, '"'), &decoded); err != nil {
			t.Fatalf("%q: %s: %v", other, out, err)
		}
		want := other
		if host, _, err := net.SplitHostPort(other); err == nil {
			want = host
		}
		if decoded != validRunes(want) {
			t.Fatalf("%q: %q, want %q", other, decoded, validRunes(want))
		}
	})
}
