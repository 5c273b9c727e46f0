package protocol

import (
	"bytes"
	"net"
	"net/netip"
	"net/textproto"
	"net/url"
	"strings"
	"unsafe"

	"golang.org/x/net/http/httpguts"
)

// The request side of the http/v4 context: header fields as received, grouped by canonical
// name as net/http (and so RoadRunner's http plugin) presents them, the cookies, the client's
// IP. The HTTP front assembles the context from these (appendRequestContext).

// HeaderField is one request header line as received (name not canonicalised yet); a slice
// of them is scratch space the caller reuses across requests.
type HeaderField struct {
	name, value []byte
	done        bool // already written as part of an earlier field's group
}

// AppendRemoteIP writes the client's IP without the port, as RoadRunner does (IPv6 without
// brackets, IPv4-mapped addresses as IPv4).
func AppendRemoteIP(dst []byte, addr net.Addr) []byte {
	if tcp, ok := addr.(*net.TCPAddr); ok {
		if ip, ok := netip.AddrFromSlice(tcp.IP); ok {
			return ip.Unmap().AppendTo(dst)
		}
		return dst
	}
	if addr == nil {
		return dst
	}
	s := addr.String()
	if host, _, err := net.SplitHostPort(s); err == nil {
		s = host
	}
	return AppendJSONEscaped(dst, s)
}

// ParseHeaderFields splits the raw header block ("Name: value\r\n"... "\r\n") into fields.
// The framing check (internal/http1) let through only well-formed field lines: no folding,
// a token before every colon.
func ParseHeaderFields(fields []HeaderField, raw []byte) []HeaderField {
	for len(raw) > 0 {
		var line []byte
		if i := bytes.IndexByte(raw, '\n'); i >= 0 {
			line, raw = raw[:i], raw[i+1:]
		} else {
			line, raw = raw, nil
		}
		line = bytes.TrimSuffix(line, []byte{'\r'})
		colon := bytes.IndexByte(line, ':')
		if colon <= 0 {
			continue
		}
		// ASCII white space only, as net/textproto: bytes.TrimSpace would also cut U+0085 and
		// U+00A0 (obs-text bytes of the value)
		fields = append(fields, HeaderField{
			name:  textproto.TrimBytes(line[:colon]),
			value: textproto.TrimBytes(line[colon+1:]),
		})
	}
	return fields
}

// SetHeaderField makes values the only fields named name (case-insensitively): the fields of
// that name are removed, and one is added for each non-empty value, in order. The request
// context then carries the headers a middleware set or added (an id, a traceparent,
// pivot.headers.request) instead of only the ones received.
func SetHeaderField(fields []HeaderField, name []byte, values ...[]byte) []HeaderField {
	kept := fields[:0]
	for _, f := range fields {
		if !bytes.EqualFold(f.name, name) {
			kept = append(kept, f)
		}
	}
	clear(fields[len(kept):])
	for _, v := range values {
		if len(v) > 0 {
			kept = append(kept, HeaderField{name: name, value: v})
		}
	}
	return kept
}

// groupByMapAbove: with more fields than this, AppendHeaderGroups finds a name's group through
// a map instead of comparing it with every later field (quadratic in the field count).
const groupByMapAbove = 32

// AppendHeaderGroups writes "Name":["v1","v2"] members, one per canonical name, in the order
// the names first appear.
func AppendHeaderGroups(dst []byte, fields []HeaderField) []byte {
	if len(fields) > groupByMapAbove {
		return appendHeaderGroupsMapped(dst, fields)
	}
	first := true
	for i := range fields {
		f := &fields[i]
		if f.done || bytes.EqualFold(f.name, hostHeader) || bytes.EqualFold(f.name, transferEncodingHeader) {
			continue
		}
		if !first {
			dst = append(dst, ',')
		}
		first = false
		dst = append(dst, '"')
		dst = appendCanonicalHeaderName(dst, f.name)
		dst = append(dst, `":[`...)
		dst = AppendJSONString(dst, b2s(f.value))
		for j := i + 1; j < len(fields); j++ {
			if g := &fields[j]; !g.done && bytes.EqualFold(g.name, f.name) {
				g.done = true
				dst = append(dst, ',')
				dst = AppendJSONString(dst, b2s(g.value))
			}
		}
		dst = append(dst, ']')
	}
	for i := range fields {
		fields[i].done = false
	}
	return dst
}

// appendHeaderGroupsMapped is AppendHeaderGroups for many fields: linear in their number.
func appendHeaderGroupsMapped(dst []byte, fields []HeaderField) []byte {
	groups := make(map[string][]int, len(fields)) // canonical name → field indexes
	var order []string
	var name []byte
	for i := range fields {
		f := &fields[i]
		if bytes.EqualFold(f.name, hostHeader) || bytes.EqualFold(f.name, transferEncodingHeader) {
			continue
		}
		name = appendCanonicalHeaderName(name[:0], f.name)
		g, seen := groups[string(name)]
		if !seen {
			order = append(order, string(name))
		}
		groups[string(name)] = append(g, i)
	}
	for k, n := range order {
		if k > 0 {
			dst = append(dst, ',')
		}
		dst = append(append(append(dst, '"'), n...), `":[`...)
		for j, i := range groups[n] {
			if j > 0 {
				dst = append(dst, ',')
			}
			dst = AppendJSONString(dst, b2s(fields[i].value))
		}
		dst = append(dst, ']')
	}
	return dst
}

var (
	hostHeader             = []byte("Host")
	transferEncodingHeader = []byte("Transfer-Encoding")
	cookieHeader           = []byte("Cookie")
)

// appendCanonicalHeaderName writes name as textproto.CanonicalMIMEHeaderKey would return it
// (JSON-escaped): "content-type" → "Content-Type"; a name with bytes outside the token set is
// written as received. Not fasthttp.AppendNormalizedHeaderKey: it differs after "--".
func appendCanonicalHeaderName(dst []byte, name []byte) []byte {
	if !httpguts.ValidHeaderFieldName(b2s(name)) {
		return AppendJSONEscaped(dst, b2s(name))
	}
	upper := true
	for _, c := range name {
		switch {
		case upper && 'a' <= c && c <= 'z':
			c -= 'a' - 'A'
		case !upper && 'A' <= c && c <= 'Z':
			c += 'a' - 'A'
		}
		dst = append(dst, c)
		upper = c == '-'
	}
	return dst
}

// AppendCookies writes the request cookies as JSON members, parsing the Cookie headers in
// place (no http.Cookie allocations). Values are URL-unescaped as RoadRunner does; a cookie whose
// value does not unescape is dropped; a later duplicate wins (as PHP's json_decode keeps the last).
func AppendCookies(dst []byte, fields []HeaderField) []byte {
	first := true
	for i := range fields {
		if !bytes.EqualFold(fields[i].name, cookieHeader) {
			continue
		}
		line := b2s(fields[i].value)
		for len(line) > 0 {
			var part string
			part, line, _ = strings.Cut(line, ";")
			part = textproto.TrimString(part) // as net/http: ASCII white space only
			if part == "" {
				continue
			}
			name, value, _ := strings.Cut(part, "=")
			name = textproto.TrimString(name)
			if !validCookieName(name) {
				continue
			}
			if len(value) > 1 && value[0] == '"' && value[len(value)-1] == '"' {
				value = value[1 : len(value)-1]
			}
			if !validCookieValue(value) {
				continue
			}
			if strings.ContainsAny(value, "%+") {
				v, err := url.QueryUnescape(value)
				if err != nil {
					continue
				}
				value = v
			}
			if !first {
				dst = append(dst, ',')
			}
			first = false
			dst = AppendJSONString(dst, name)
			dst = append(dst, ':')
			dst = AppendJSONString(dst, value)
		}
	}
	return dst
}

func validCookieName(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c <= ' ' || c >= 0x7f || strings.IndexByte("()<>@,;:\\\"/[]?={}", c) >= 0 {
			return false
		}
	}
	return true
}

func validCookieValue(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < 0x20 || c >= 0x7f || c == '"' || c == ';' || c == '\\' {
			return false
		}
	}
	return true
}

// b2s views b as a string without copying; the string must not outlive b's contents.
func b2s(b []byte) string { return unsafe.String(unsafe.SliceData(b), len(b)) }
