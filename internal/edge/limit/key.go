package limit

import (
	"bytes"
	"crypto/sha256"
	"net"
	"net/netip"
	"unsafe"

	"github.com/valyala/fasthttp"
)

// A budget's key is a few bytes: the kind ('4': an IPv4 address, '6': an IPv6 /64, 'h': a
// header's value, 'H': the SHA-256 of a long one) and the value. Keys are binary: the memory
// store looks them up without a copy, Redis keys are binary-safe.
//
// The client's address: the peer's, unless the peer is a trusted proxy; then the right-most
// address of X-Forwarded-For that is not a trusted proxy (each proxy appends the address it
// got the request from, so everything left of the first untrusted hop may be forged by the
// client). An IPv6 client is keyed by its /64: one subscriber gets a whole /64 and could
// otherwise take a fresh budget per address.

// maxHeaderKey is the longest header value used as it is; a longer one is hashed.
const maxHeaderKey = 64

const forwardedFor = "X-Forwarded-For"

// keyer builds the key of a request.
type keyer struct {
	header  []byte // by header:NAME; nil: by ip
	trusted []netip.Prefix
}

// key appends the request's key to dst.
func (k *keyer) key(dst []byte, c *fasthttp.RequestCtx) []byte {
	if k.header != nil {
		if v := c.Request.Header.PeekBytes(k.header); len(v) > 0 {
			if len(v) <= maxHeaderKey {
				return append(append(dst, 'h'), v...)
			}
			sum := sha256.Sum256(v)
			return append(append(dst, 'H'), sum[:]...)
		}
	}
	return appendAddrKey(dst, k.clientAddr(c))
}

func appendAddrKey(dst []byte, a netip.Addr) []byte {
	if a.Is4() {
		b := a.As4()
		return append(append(dst, '4'), b[:]...)
	}
	b := a.As16()
	return append(append(dst, '6'), b[:8]...)
}

// clientAddr is the client's address (see above).
func (k *keyer) clientAddr(c *fasthttp.RequestCtx) netip.Addr {
	peer := peerAddr(c)
	if len(k.trusted) == 0 || !k.isTrusted(peer) {
		return peer
	}
	return k.forwardedClient(peer, c.Request.Header.PeekAll(forwardedFor))
}

// forwardedClient walks X-Forwarded-For from the right (the last header first) past the
// trusted proxies: the first untrusted address is the client. Every hop trusted: the left-most
// (the client is inside the trusted network). An entry that is not an address stops the walk:
// the hop that passed it on (a trusted proxy) stands for the client.
func (k *keyer) forwardedClient(peer netip.Addr, values [][]byte) netip.Addr {
	client := peer
	for i := len(values) - 1; i >= 0; i-- {
		v := values[i]
		for len(v) > 0 {
			var entry []byte
			if j := bytes.LastIndexByte(v, ','); j >= 0 {
				entry, v = v[j+1:], v[:j]
			} else {
				entry, v = v, nil
			}
			entry = bytes.TrimSpace(entry)
			if len(entry) == 0 {
				continue
			}
			a, ok := parseForwarded(entry)
			if !ok {
				return client
			}
			if !k.isTrusted(a) {
				return a
			}
			client = a
		}
	}
	return client
}

func (k *keyer) isTrusted(a netip.Addr) bool {
	for _, p := range k.trusted {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// parseForwarded reads an X-Forwarded-For entry: an address, possibly with a port
// (1.2.3.4:80, [2001:db8::1]:80) as some proxies write it; never a zone.
func parseForwarded(b []byte) (netip.Addr, bool) {
	if bytes.IndexByte(b, '%') >= 0 || len(b) > 64 {
		return netip.Addr{}, false
	}
	if b[0] == '[' {
		end := bytes.IndexByte(b, ']')
		if end < 0 {
			return netip.Addr{}, false
		}
		b = b[1:end]
	} else if i := bytes.IndexByte(b, ':'); i >= 0 && bytes.IndexByte(b[i+1:], ':') < 0 {
		b = b[:i] // one colon: IPv4 with a port
	}
	// the string is only parsed, never kept (no zone: checked above)
	a, err := netip.ParseAddr(unsafe.String(unsafe.SliceData(b), len(b)))
	if err != nil {
		return netip.Addr{}, false
	}
	return a.Unmap(), true
}

// peerAddr is the address of the connection's other end.
func peerAddr(c *fasthttp.RequestCtx) netip.Addr {
	if t, ok := c.RemoteAddr().(*net.TCPAddr); ok {
		if a, ok := netip.AddrFromSlice(t.IP); ok {
			return a.Unmap()
		}
	}
	a, _ := netip.AddrFromSlice(c.RemoteIP())
	return a.Unmap()
}
