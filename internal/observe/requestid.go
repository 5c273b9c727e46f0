package observe

import (
	"encoding/hex"
	"math/rand/v2"
)

// Header is the request id's header: the front sets it on the request before the request
// reaches the pool (PHP and anything reading the request's headers see it) and on the response.
const Header = "X-Request-Id"

// MaxIDLen bounds an incoming id: longer ones are replaced.
const MaxIDLen = 128

// SaneID reports whether an incoming X-Request-Id is kept: 1 to MaxIDLen bytes of letters,
// digits and - _ . : / + = @ (UUIDs, ULIDs, base64, AWS/Heroku-style ids). Anything else
// (spaces, quotes, commas, control or non-ASCII bytes) could forge a log field or split a
// header list, and is replaced by a new id.
func SaneID(b []byte) bool {
	if len(b) == 0 || len(b) > MaxIDLen {
		return false
	}
	for _, c := range b {
		if !idByte[c] {
			return false
		}
	}
	return true
}

var idByte = func() (t [256]bool) {
	for c := '0'; c <= '9'; c++ {
		t[c] = true
	}
	for c := 'a'; c <= 'z'; c++ {
		t[c], t[c-'a'+'A'] = true, true
	}
	for _, c := range "-_.:/+=@" {
		t[c] = true
	}
	return t
}()

// IDLen is the length of a generated id: 128 random bits in hex, like a W3C trace id.
const IDLen = 32

// NewID writes a new id into dst. math/rand/v2's top-level generator is per-thread ChaCha8
// (runtime.rand): no lock, no allocation, and ids are not guessable from one another.
func NewID(dst *[IDLen]byte) []byte {
	var raw [16]byte
	a, b := rand.Uint64(), rand.Uint64()
	for i := 0; i < 8; i++ {
		raw[i], raw[8+i] = byte(a>>(8*i)), byte(b>>(8*i))
	}
	hex.Encode(dst[:], raw[:])
	return dst[:]
}
