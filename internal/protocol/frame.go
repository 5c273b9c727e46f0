package protocol

import "hash/crc32"

// Goridge frames (the http/v4 transport): a 12-byte header — version|header length in 32-bit
// words, flags, payload length, CRC32 of the first 6 bytes, byte10, a reserved byte — then up
// to 10 options of 4 bytes, then the payload. A request frame has one option, the length of
// the JSON context that precedes the body in its payload.

const frameVersion1 = 1 << 4

// PutHeader writes a goridge header (12 bytes + options) into dst.
func PutHeader(dst []byte, flags, byte10 byte, payloadLen int, options ...uint32) []byte {
	start := len(dst)
	dst = append(dst, frameVersion1|byte(3+len(options)), flags,
		byte(payloadLen), byte(payloadLen>>8), byte(payloadLen>>16), byte(payloadLen>>24))
	crc := crc32.ChecksumIEEE(dst[start : start+6])
	dst = append(dst, byte(crc), byte(crc>>8), byte(crc>>16), byte(crc>>24), byte10, 0)
	for _, o := range options {
		dst = append(dst, byte(o), byte(o>>8), byte(o>>16), byte(o>>24))
	}
	return dst
}

// requestHeaderLen is a request frame's header: the 12 fixed bytes and one option.
const requestHeaderLen = 12 + 4

// RequestFrameLen is the size of a request frame (header, context, body) for ctx and body.
func RequestFrameLen(ctx, body []byte) int { return requestHeaderLen + len(ctx) + len(body) }
