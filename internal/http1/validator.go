// Package http1 checks the framing of HTTP/1.1 requests as they arrive on a connection, before
// pivot's HTTP server (fasthttp) parses them.
//
// Why a checker of our own in front of a parser: fasthttp is fast because it is lenient, and
// every leniency in how a server finds where a request ends is a request-smuggling hole behind
// a proxy that reads the same bytes differently (obs-fold, Transfer-Encoding other than chunked,
// Content-Length beside Transfer-Encoding, invalid field names, bare LF in chunk lines, ...).
// The Validator reads the bytes before the parser does and lets through only messages whose
// framing RFC 9112 defines one way: anything it does not pass cannot reach fasthttp, so the two
// can never disagree. Net/http's parser would do (and Go's net/http is the reference the tests
// compare with), but it costs twice the CPU per request of fasthttp (bench/README.md).
//
// It is a streaming state machine: Feed takes the bytes of each read, says how many may go on
// to the parser, and at the first byte that breaks the rules returns an *Error with the status
// the client must get (400, 413, 431, 501 or 505); the connection is then answered and closed.
// Memory is bounded by the longest line it must hold (the head limit), whatever a header
// announces.
package http1

import (
	"bytes"
	"strconv"
)

// Limits bound what a request may hold.
type Limits struct {
	// MaxHead is the largest request line plus header section, and the largest trailer
	// section (bytes): larger gets 431.
	MaxHead int
	// MaxBody is the largest body (bytes, after de-chunking): larger gets 413.
	MaxBody int64
}

// Error is a request the server must refuse: answer Status, then close the connection.
type Error struct {
	Status int
	Reason string
}

func (e *Error) Error() string { return strconv.Itoa(e.Status) + " " + e.Reason }

// maxLeadingEmptyLines: a server SHOULD ignore at least one empty line before a request-line
// (RFC 9112 §2.2); a few, no more.
const maxLeadingEmptyLines = 4

// maxChunkLine bounds a chunk-size line with its extensions.
const maxChunkLine = 4096

type state uint8

const (
	stRequestLine state = iota // between requests, or in the request line
	stHeaders                  // in the header section
	stBody                     // a Content-Length body: remaining bytes
	stChunkSize                // a chunk-size line
	stChunkData                // chunk data: remaining bytes
	stChunkCRLF                // the CRLF after chunk data
	stTrailers                 // the trailer section
	stFailed
)

// Validator checks one connection's requests. The zero value is not ready: use New.
type Validator struct {
	limits Limits
	st     state
	err    *Error

	line      []byte // a line that began in an earlier Feed
	headBytes int    // bytes of the current head (or trailer section) so far
	// passedLines: a whole line of the current head went on to the parser; started: some
	// bytes of the refused request did (Started)
	passedLines, started bool
	// completed counts the requests checked whole
	completed  int
	emptyLines int
	remaining  int64 // of a Content-Length body or a chunk
	bodyBytes  int64 // de-chunked body so far
	crlfSeen   int   // of the CRLF after chunk data

	// the current request's head
	http10     bool
	connect    bool
	hosts      int
	hostBad    bool
	lengths    int
	length     int64
	encodings  int
	encoding   int // encChunked, encOther, encChunkedNotLast
	targetStar bool
	options    bool
}

const (
	encChunked = iota + 1
	encUnsupported
	encInvalid
)

// New returns a Validator for a new connection.
func New(l Limits) *Validator { return &Validator{limits: l} }

// Err is the violation found so far, if any.
func (v *Validator) Err() *Error { return v.err }

// MidRequest reports whether the bytes fed so far end inside a request (not between two).
func (v *Validator) MidRequest() bool {
	return v.st != stRequestLine || len(v.line) > 0
}

// Feed checks b, the next bytes of the connection. It returns how many of them may go on to
// the parser: all of them, or those before the first that breaks the rules, with the error.
// After an error every Feed returns (0, that error).
func (v *Validator) Feed(b []byte) (int, *Error) {
	if v.err != nil {
		return 0, v.err
	}
	i := 0
	for i < len(b) {
		switch v.st {
		case stBody, stChunkData:
			// body bytes pass unread, up to the end of the body or chunk
			n := min(int64(len(b)-i), v.remaining)
			v.remaining -= n
			i += int(n)
			switch {
			case v.remaining > 0:
			case v.st == stBody:
				v.st = stRequestLine
				v.completed++
			default:
				v.st, v.crlfSeen = stChunkCRLF, 0
			}
		case stChunkCRLF:
			want := byte('\r')
			if v.crlfSeen == 1 {
				want = '\n'
			}
			if b[i] != want {
				return v.fail(i, 400, "chunk data is not followed by CRLF")
			}
			i++
			v.crlfSeen++
			if v.crlfSeen == 2 {
				v.st = stChunkSize
			}
		default:
			inHead := v.st == stRequestLine || v.st == stHeaders
			partial := len(v.line) > 0 // went on in an earlier Feed
			n, err := v.feedLine(b[i:])
			if err != nil {
				// bytes of the refused request went on already: its whole head (an error in
				// the body or trailers), or lines (or part of a line) of its head
				v.started = !inHead || partial || v.passedLines
				return v.fail(i+n, err.Status, err.Reason)
			}
			v.passedLines = v.st == stHeaders
			i += n
		}
	}
	return len(b), nil
}

func (v *Validator) fail(at, status int, reason string) (int, *Error) {
	if v.st == stChunkCRLF {
		v.started = true
	}
	v.err = &Error{Status: status, Reason: reason}
	v.st = stFailed
	v.line = nil
	return at, v.err
}

// Started reports, after an error, whether some bytes of the refused request went on to the
// parser before it. A server that has read nothing of a request on a keep-alive connection
// takes the error for the client going away and answers nothing: the caller should then pass
// the request's first byte, so the client gets its 4xx.
func (v *Validator) Started() bool { return v.started }

// Refused is the error if the n-th request of the connection (1-based, as fasthttp's
// ConnRequestNum) is the one refused: checked up to an error in its head, its chunks or its
// trailers, which fasthttp may have read past (it takes an error in a trailer for the body's end).
func (v *Validator) Refused(n int) *Error {
	if v.err != nil && v.completed+1 == n {
		return v.err
	}
	return nil
}

// feedLine consumes bytes of a line-oriented state up to and including the next LF (or all of
// b if there is none) and returns how many it consumed; on an error, how many bytes before
// the offending one.
func (v *Validator) feedLine(b []byte) (int, *Error) {
	limit := v.lineLimit()
	lf := bytes.IndexByte(b, '\n')
	if lf < 0 {
		if len(v.line)+len(b) > limit {
			return 0, v.tooLong()
		}
		v.line = append(v.line, b...)
		v.headBytes += len(b)
		return len(b), nil
	}
	n := lf + 1
	if len(v.line)+n > limit {
		return 0, v.tooLong()
	}
	line := b[:n]
	inPlace := len(v.line) == 0 // the whole line is in b, not yet passed on
	if !inPlace {
		v.line = append(v.line, line...)
		line = v.line
	}
	v.headBytes += n
	if len(line) < 2 || line[len(line)-2] != '\r' {
		return 0, &Error{Status: 400, Reason: "a line ends with a bare LF (CRLF is required)"}
	}
	fieldLine := v.st == stHeaders || v.st == stTrailers
	err := v.line2(line[:len(line)-2])
	v.line = v.line[:0]
	if err != nil {
		return 0, err
	}
	if fieldLine && inPlace {
		tabsToSpaces(line[:len(line)-2])
	}
	return n, nil
}

// tabsToSpaces turns HTAB whitespace around a field value into SP before fasthttp reads the
// line: RFC 9110 allows both (OWS), fasthttp trims only spaces (it refuses "Transfer-Encoding:
// <TAB>chunked" with a 400). The bytes are rewritten where they are still to be passed on; a
// line whose start went on in an earlier read keeps its tabs, and fasthttp its 400 for a
// framing field (a tab elsewhere is trimmed from the value PHP gets, request_context.go).
func tabsToSpaces(line []byte) {
	colon := bytes.IndexByte(line, ':')
	if colon < 0 || bytes.IndexByte(line[colon:], '\t') < 0 {
		return
	}
	value := line[colon+1:]
	for i := 0; i < len(value) && (value[i] == ' ' || value[i] == '\t'); i++ {
		value[i] = ' '
	}
	for i := len(value) - 1; i >= 0 && (value[i] == ' ' || value[i] == '\t'); i-- {
		value[i] = ' '
	}
}

func (v *Validator) lineLimit() int {
	switch v.st {
	case stChunkSize:
		return maxChunkLine
	default:
		return v.limits.MaxHead - v.headBytes + len(v.line)
	}
}

func (v *Validator) tooLong() *Error {
	if v.st == stChunkSize {
		return &Error{Status: 400, Reason: "chunk-size line too long"}
	}
	return &Error{Status: 431, Reason: "request head exceeds the limit (pivot.max_header_bytes)"}
}

// line2 takes one complete line without its CRLF.
func (v *Validator) line2(line []byte) *Error {
	switch v.st {
	case stRequestLine:
		if len(line) == 0 {
			v.emptyLines++
			v.headBytes = 0
			if v.emptyLines > maxLeadingEmptyLines {
				return &Error{Status: 400, Reason: "too many empty lines before the request line"}
			}
			return nil
		}
		v.emptyLines = 0
		if err := v.requestLine(line); err != nil {
			return err
		}
		v.st = stHeaders
		return nil
	case stHeaders:
		if len(line) == 0 {
			return v.endOfHead()
		}
		return v.headerField(line)
	case stChunkSize:
		return v.chunkSize(line)
	case stTrailers:
		if len(line) == 0 {
			v.st, v.headBytes = stRequestLine, 0
			v.completed++
			return nil
		}
		name, _, err := splitField(line)
		if err != nil {
			return err
		}
		if equalFold(name, "content-length") || equalFold(name, "transfer-encoding") || equalFold(name, "host") {
			return &Error{Status: 400, Reason: "a trailer field may not be " + string(name)}
		}
		return nil
	}
	return &Error{Status: 400, Reason: "unexpected data"}
}

// requestLine checks method SP request-target SP HTTP-version (RFC 9112 §3).
func (v *Validator) requestLine(line []byte) *Error {
	sp1 := bytes.IndexByte(line, ' ')
	if sp1 <= 0 {
		return &Error{Status: 400, Reason: "malformed request line"}
	}
	method := line[:sp1]
	rest := line[sp1+1:]
	sp2 := bytes.LastIndexByte(rest, ' ')
	if sp2 <= 0 {
		return &Error{Status: 400, Reason: "malformed request line"}
	}
	target, version := rest[:sp2], rest[sp2+1:]
	if !isToken(method) {
		return &Error{Status: 400, Reason: "the method is not a token"}
	}
	switch string(version) {
	case "HTTP/1.1":
		v.http10 = false
	case "HTTP/1.0":
		v.http10 = true
	default:
		if len(version) == 8 && bytes.HasPrefix(version, []byte("HTTP/")) && isDigit(version[5]) && version[6] == '.' && isDigit(version[7]) {
			return &Error{Status: 505, Reason: "HTTP version not supported (HTTP/1.0 and HTTP/1.1 are)"}
		}
		return &Error{Status: 400, Reason: "malformed HTTP version"}
	}
	for i, c := range target {
		if c <= ' ' || c == 0x7f || c == '#' {
			return &Error{Status: 400, Reason: "the request target has a byte that is not allowed (control, space or '#')"}
		}
		if c == '%' && (i+2 >= len(target) || !isHex(target[i+1]) || !isHex(target[i+2])) {
			return &Error{Status: 400, Reason: "invalid percent-encoding in the request target"}
		}
	}
	v.connect = string(method) == "CONNECT"
	v.options = string(method) == "OPTIONS"
	v.targetStar = string(target) == "*"
	switch {
	case v.connect:
		return &Error{Status: 501, Reason: "CONNECT is not supported"}
	case target[0] == '/':
	case v.targetStar:
		if !v.options {
			return &Error{Status: 400, Reason: "the asterisk target is for OPTIONS only"}
		}
	case hasPrefixFold(target, "http://") || hasPrefixFold(target, "https://"):
	default:
		return &Error{Status: 400, Reason: "malformed request target"}
	}
	v.hosts, v.hostBad, v.lengths, v.length, v.encodings, v.encoding = 0, false, 0, 0, 0, 0
	return nil
}

// headerField checks one field line: field-name ":" OWS field-value OWS (RFC 9112 §5).
func (v *Validator) headerField(line []byte) *Error {
	if line[0] == ' ' || line[0] == '\t' {
		return &Error{Status: 400, Reason: "obsolete line folding is not accepted"}
	}
	name, value, err := splitField(line)
	if err != nil {
		return err
	}
	switch {
	case equalFold(name, "host"):
		v.hosts++
		if !validHost(value) {
			v.hostBad = true
		}
	case equalFold(name, "content-length"):
		v.lengths++
		n, ok := parseLength(value)
		if !ok {
			return &Error{Status: 400, Reason: "invalid Content-Length"}
		}
		v.length = n
	case equalFold(name, "transfer-encoding"):
		v.encodings++
		v.encoding = classifyEncoding(value)
	}
	return nil
}

// endOfHead decides the body's framing (RFC 9112 §6.3), refusing every ambiguous case.
func (v *Validator) endOfHead() *Error {
	switch {
	case v.hosts == 0 && !v.http10:
		return &Error{Status: 400, Reason: "an HTTP/1.1 request must have a Host header"}
	case v.hosts > 1:
		return &Error{Status: 400, Reason: "more than one Host header"}
	case v.hostBad:
		return &Error{Status: 400, Reason: "invalid Host header"}
	case v.lengths > 1:
		return &Error{Status: 400, Reason: "more than one Content-Length header"}
	case v.encodings > 0 && v.http10:
		return &Error{Status: 400, Reason: "Transfer-Encoding in an HTTP/1.0 request"}
	case v.encodings > 0 && v.lengths > 0:
		return &Error{Status: 400, Reason: "both Transfer-Encoding and Content-Length"}
	case v.encodings > 1:
		return &Error{Status: 400, Reason: "more than one Transfer-Encoding header"}
	}
	v.headBytes = 0
	if v.encodings == 1 {
		switch v.encoding {
		case encChunked:
			v.st, v.bodyBytes = stChunkSize, 0
			return nil
		case encUnsupported:
			return &Error{Status: 501, Reason: "a transfer coding other than chunked is not supported"}
		default:
			return &Error{Status: 400, Reason: "Transfer-Encoding must end with chunked"}
		}
	}
	if v.length > v.limits.MaxBody {
		return &Error{Status: 413, Reason: "request body exceeds the limit (pivot.max_request_size)"}
	}
	if v.length > 0 {
		v.st, v.remaining = stBody, v.length
		return nil
	}
	v.st = stRequestLine
	v.completed++
	return nil
}

// chunkSize checks chunk-size [ chunk-ext ] (RFC 9112 §7.1).
func (v *Validator) chunkSize(line []byte) *Error {
	i := 0
	var size int64
	for i < len(line) && isHex(line[i]) {
		if i >= 15 {
			return &Error{Status: 400, Reason: "chunk size too large"}
		}
		size = size<<4 | int64(unhex(line[i]))
		i++
	}
	if i == 0 {
		return &Error{Status: 400, Reason: "malformed chunk size"}
	}
	ext := line[i:]
	// chunk-ext = *( BWS ";" BWS ext-name [ BWS "=" BWS ext-val ] ): only visible bytes,
	// spaces and tabs, and it must start with ";" after optional whitespace
	t := bytes.TrimLeft(ext, " \t")
	if len(t) > 0 && t[0] != ';' {
		return &Error{Status: 400, Reason: "malformed chunk size"}
	}
	if len(ext) > 0 && len(t) == 0 {
		return &Error{Status: 400, Reason: "malformed chunk size"}
	}
	for _, c := range ext {
		if c < ' ' && c != '\t' || c == 0x7f {
			return &Error{Status: 400, Reason: "control byte in a chunk extension"}
		}
	}
	if size == 0 {
		v.st, v.headBytes = stTrailers, 0
		return nil
	}
	v.bodyBytes += size
	if v.bodyBytes > v.limits.MaxBody {
		return &Error{Status: 413, Reason: "request body exceeds the limit (pivot.max_request_size)"}
	}
	v.st, v.remaining = stChunkData, size
	return nil
}

// splitField splits a field line into its name (a token, no whitespace before the colon) and
// its value (OWS trimmed; no control bytes but HTAB).
func splitField(line []byte) (name, value []byte, err *Error) {
	colon := bytes.IndexByte(line, ':')
	if colon < 0 {
		return nil, nil, &Error{Status: 400, Reason: "a header line has no colon"}
	}
	name = line[:colon]
	if !isToken(name) {
		return nil, nil, &Error{Status: 400, Reason: "invalid header name"}
	}
	value = bytes.Trim(line[colon+1:], " \t")
	for _, c := range value {
		if c < ' ' && c != '\t' || c == 0x7f {
			return nil, nil, &Error{Status: 400, Reason: "control byte in a header value"}
		}
	}
	return name, value, nil
}

// parseLength reads 1*DIGIT (at most 18 digits: no overflow).
func parseLength(b []byte) (int64, bool) {
	if len(b) == 0 || len(b) > 18 {
		return 0, false
	}
	var n int64
	for _, c := range b {
		if !isDigit(c) {
			return 0, false
		}
		n = n*10 + int64(c-'0')
	}
	return n, true
}

// classifyEncoding reads a Transfer-Encoding value: exactly chunked; a list that ends with
// chunked (codings pivot does not decode); anything else.
func classifyEncoding(value []byte) int {
	if equalFold(value, "chunked") {
		return encChunked
	}
	last := value
	if i := bytes.LastIndexByte(value, ','); i >= 0 {
		last = bytes.Trim(value[i+1:], " \t")
	}
	if equalFold(last, "chunked") {
		return encUnsupported
	}
	return encInvalid
}

// validHost checks uri-host [ ":" port ] (RFC 9110 §7.2), as net/http's httpguts does: no
// '/', '?', '#', '@' or whitespace, which would change the URL PHP builds from it.
func validHost(h []byte) bool {
	for _, c := range h {
		if c >= 0x80 || !hostByte[c] {
			return false
		}
	}
	return true
}

var hostByte = func() (t [128]bool) {
	for _, c := range []byte("!$&'()*+,-.0123456789:;=ABCDEFGHIJKLMNOPQRSTUVWXYZ[]_abcdefghijklmnopqrstuvwxyz~%") {
		t[c] = true
	}
	return t
}()

var tokenByte = func() (t [128]bool) {
	for _, c := range []byte("!#$%&'*+-.^_`|~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz") {
		t[c] = true
	}
	return t
}()

func isToken(b []byte) bool {
	if len(b) == 0 {
		return false
	}
	for _, c := range b {
		if c >= 0x80 || !tokenByte[c] {
			return false
		}
	}
	return true
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

func isHex(c byte) bool { return isDigit(c) || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F' }

func unhex(c byte) byte {
	switch {
	case isDigit(c):
		return c - '0'
	case c >= 'a':
		return c - 'a' + 10
	}
	return c - 'A' + 10
}

func equalFold(b []byte, lower string) bool {
	if len(b) != len(lower) {
		return false
	}
	for i := range b {
		c := b[i]
		if c >= 'A' && c <= 'Z' {
			c += 'a' - 'A'
		}
		if c != lower[i] {
			return false
		}
	}
	return true
}

func hasPrefixFold(b []byte, lower string) bool {
	return len(b) > len(lower) && equalFold(b[:len(lower)], lower)
}
