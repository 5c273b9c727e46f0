package httpfront

import (
	"bytes"
	"unsafe"

	"github.com/pivotphp/pivotphp-runtime-roadrunner/internal/protocol"
	"github.com/valyala/fasthttp"
)

// appendRequestContext writes the http/v4 request context JSON:
// {"remoteAddr","protocol","method","uri","headers","cookies","rawQuery","parsed","uploads","attributes"}.
// Headers are grouped by canonical name, without Host and Transfer-Encoding, as net/http (and
// so RoadRunner's http plugin) presents them; fields is scratch space reused across requests.
func appendRequestContext(dst []byte, c *fasthttp.RequestCtx, fields []protocol.HeaderField, parsed bool, files protocol.DataTree) ([]byte, []protocol.HeaderField) {
	return appendRequestContextSet(dst, c, fields, parsed, files, nil)
}

// appendRequestContextSet is appendRequestContext with the headers named in set taken from
// fasthttp's parsed view, where the middleware set them (Options.RequestHeaders).
func appendRequestContextSet(dst []byte, c *fasthttp.RequestCtx, fields []protocol.HeaderField, parsed bool, files protocol.DataTree, set [][]byte) ([]byte, []protocol.HeaderField) {
	req := &c.Request.Header
	dst = append(dst, `{"remoteAddr":"`...)
	dst = protocol.AppendRemoteIP(dst, c.RemoteAddr())
	dst = append(dst, `","protocol":`...)
	dst = protocol.AppendJSONString(dst, b2s(req.Protocol()))
	dst = append(dst, `,"method":`...)
	dst = protocol.AppendJSONString(dst, b2s(req.Method()))
	target := req.RequestURI()
	dst = append(dst, `,"uri":"`...)
	if len(target) == 0 || target[0] == '/' || target[0] == '*' {
		if c.IsTLS() { // a request of pivot.ssl (nethttp.go), as RoadRunner's http plugin says
			dst = append(dst, "https://"...)
		} else {
			dst = append(dst, "http://"...)
		}
		dst = protocol.AppendJSONEscaped(dst, b2s(req.Host()))
	}
	dst = protocol.AppendJSONEscaped(dst, b2s(target)) // else absolute-form (proxies): as received
	dst = append(dst, `","headers":{`...)
	// from the raw head: fasthttp's parsed view re-serialises cookies and drops some headers
	fields = protocol.ParseHeaderFields(fields[:0], req.RawHeaders())
	for _, name := range set {
		fields = protocol.SetHeaderField(fields, name, req.PeekAll(b2s(name))...)
	}
	dst = protocol.AppendHeaderGroups(dst, fields)
	dst = append(dst, `},"cookies":{`...)
	dst = protocol.AppendCookies(dst, fields)
	dst = append(dst, `},"rawQuery":"`...)
	if i := bytes.IndexByte(target, '?'); i >= 0 {
		dst = protocol.AppendJSONEscaped(dst, b2s(target[i+1:]))
	}
	if parsed {
		dst = append(dst, `","parsed":true,"uploads":`...)
	} else {
		dst = append(dst, `","parsed":false,"uploads":`...)
	}
	if files == nil {
		dst = append(dst, "null"...)
	} else {
		dst = protocol.AppendJSONObject(dst, files)
	}
	return append(dst, `,"attributes":{}}`...), fields
}

// b2s views b as a string without copying; the string must not outlive b's contents.
func b2s(b []byte) string { return unsafe.String(unsafe.SliceData(b), len(b)) }
