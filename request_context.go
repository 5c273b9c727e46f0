package pivot

import (
	"net"
	"net/http"
	"net/url"
	"strings"
)

// appendRequestContext writes the http/v4 request context JSON:
// {"remoteAddr","protocol","method","uri","headers","cookies","rawQuery","parsed","uploads","attributes"}.
func appendRequestContext(dst []byte, r *http.Request, parsed bool, files dataTree) []byte {
	dst = append(dst, `{"remoteAddr":`...)
	dst = appendJSONString(dst, remoteHost(r.RemoteAddr))
	dst = append(dst, `,"protocol":`...)
	dst = appendJSONString(dst, r.Proto)
	dst = append(dst, `,"method":`...)
	dst = appendJSONString(dst, r.Method)
	dst = append(dst, `,"uri":`...)
	dst = appendURI(dst, r)
	dst = append(dst, `,"headers":{`...)
	first := true
	for name, values := range r.Header {
		if !first {
			dst = append(dst, ',')
		}
		first = false
		dst = appendJSONString(dst, name)
		dst = append(dst, ':')
		dst = appendJSONStrings(dst, values)
	}
	dst = append(dst, `},"cookies":{`...)
	dst = appendCookies(dst, r.Header["Cookie"])
	dst = append(dst, `},"rawQuery":`...)
	dst = appendJSONString(dst, r.URL.RawQuery)
	if parsed {
		dst = append(dst, `,"parsed":true,"uploads":`...)
	} else {
		dst = append(dst, `,"parsed":false,"uploads":`...)
	}
	if files == nil {
		dst = append(dst, "null"...)
	} else {
		dst = appendJSONObject(dst, files)
	}
	return append(dst, `,"attributes":{}}`...)
}

// remoteHost strips the port as RoadRunner does (IPv6 without brackets).
func remoteHost(addr string) string {
	if strings.IndexByte(addr, ':') < 0 {
		return addr
	}
	if host, _, err := net.SplitHostPort(addr); err == nil {
		return host
	}
	if ip := net.ParseIP(addr); ip != nil {
		return ip.String()
	}
	return ""
}

// appendURI writes the absolute request URI: scheme://host + the request target as received.
func appendURI(dst []byte, r *http.Request) []byte {
	if r.URL.Host != "" { // absolute-form request target (proxies)
		return appendJSONString(dst, r.URL.String())
	}
	target := r.RequestURI
	if target == "" || target[0] != '/' {
		target = r.URL.RequestURI()
	}
	dst = append(dst, '"')
	if r.TLS != nil {
		dst = append(dst, "https://"...)
	} else {
		dst = append(dst, "http://"...)
	}
	dst = appendJSONEscaped(dst, r.Host)
	dst = appendJSONEscaped(dst, target)
	return append(dst, '"')
}

// appendCookies writes the request cookies as JSON members, parsing the Cookie headers in
// place (no http.Cookie allocations). Values are URL-unescaped as RoadRunner does; a cookie whose
// value does not unescape is dropped; a later duplicate wins (as PHP's json_decode keeps the last).
func appendCookies(dst []byte, headers []string) []byte {
	first := true
	for _, line := range headers {
		for len(line) > 0 {
			var part string
			part, line, _ = strings.Cut(line, ";")
			part = strings.TrimSpace(part)
			if part == "" {
				continue
			}
			name, value, _ := strings.Cut(part, "=")
			name = strings.TrimSpace(name)
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
			dst = appendJSONString(dst, name)
			dst = append(dst, ':')
			dst = appendJSONString(dst, value)
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
