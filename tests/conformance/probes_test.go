package conformance

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"
)

// smuggled is a request hidden in a body: if its marker ever reaches PHP, the server executed
// bytes of a body as a request.
const smuggled = "GET /smuggled/{ID} HTTP/1.1\r\nHost: {HOST}\r\nX-Probe: smuggled-{ID}\r\n\r\n"

// head joins a request line and header lines into a request head (CRLF endings, blank line).
func head(lines ...string) string { return strings.Join(lines, "\r\n") + "\r\n\r\n" }

// post is a POST head to the probe's marker path with extra header lines.
func post(headers ...string) string {
	return head(append([]string{"POST /p/{ID} HTTP/1.1", "Host: {HOST}"}, headers...)...)
}

func get(target string, headers ...string) string {
	return head(append([]string{"GET " + target + " HTTP/1.1", "Host: {HOST}"}, headers...)...)
}

// phpClean: nothing PHP saw has NUL, CR, LF or another control byte in a header, nor a byte
// outside the token set in a header name.
func phpClean(o *outcome) string {
	for _, r := range o.php {
		if r.BadHeaderBytes {
			return "PHP saw a header with forbidden bytes (NUL/CR/LF/CTL in a value or a non-token name)"
		}
	}
	return ""
}

// bodyNonEmpty: the one request PHP saw had a body.
func bodyNonEmpty(o *outcome) string {
	for _, r := range o.php {
		if r.BodyLen == 0 {
			return "PHP saw an empty body"
		}
	}
	return ""
}

// echoedHeader: the first response's echo shows the header name with exactly this one value.
func echoedHeader(name, value string) func(o *outcome) string {
	return func(o *outcome) string {
		vals, err := echoHeader(o, name)
		if err != "" {
			return err
		}
		if len(vals) != 1 || vals[0] != value {
			return fmt.Sprintf("PHP saw %s %q, want [%q]", name, vals, value)
		}
		return ""
	}
}

func echoedHeaderPrefix(name, prefix string) func(o *outcome) string {
	return func(o *outcome) string {
		vals, err := echoHeader(o, name)
		if err != "" {
			return err
		}
		if len(vals) != 1 || !strings.HasPrefix(vals[0], prefix) {
			return fmt.Sprintf("PHP saw %s %q, want one value starting %q", name, vals, prefix)
		}
		return ""
	}
}

func echoHeader(o *outcome, name string) ([]string, string) {
	if len(o.responses) == 0 {
		return nil, "no response"
	}
	var echo struct {
		Headers map[string][]string `json:"headers"`
	}
	if err := json.Unmarshal(o.responses[0].body, &echo); err != nil {
		return nil, fmt.Sprintf("the first response is not the worker's echo: %v", err)
	}
	for k, v := range echo.Headers {
		if strings.EqualFold(k, name) {
			return v, ""
		}
	}
	return nil, ""
}

// noInjectedHeader: the response carries no header the app tried to inject through CR/LF.
func noInjectedHeader(o *outcome) string {
	for i, r := range o.responses {
		if r.header.Get("X-Injected") != "" {
			return fmt.Sprintf("response %d carries the injected header X-Injected", i+1)
		}
		for k := range r.header {
			if strings.ContainsAny(k, "\r\n:") {
				return fmt.Sprintf("response %d has a header named %q", i+1, k)
			}
		}
	}
	return ""
}

// phpHost: PHP saw this host in the request's URI.
func phpHost(host string) func(o *outcome) string {
	return func(o *outcome) string {
		for _, r := range o.php {
			if r.Host != host {
				return fmt.Sprintf("PHP saw host %q, want %q", r.Host, host)
			}
		}
		return ""
	}
}

// inOrder: the i-th response answers the i-th pipelined request (/p/{ID}/seq/i).
func inOrder(o *outcome) string {
	for i, r := range o.responses {
		want := fmt.Sprintf("/p/%s/seq/%d\"", o.id, i)
		if !strings.Contains(string(r.body), want) {
			return fmt.Sprintf("response %d does not answer request %d (body %q)", i+1, i, truncate(string(r.body), 120))
		}
	}
	return ""
}

func pipelined(n int) string {
	var b strings.Builder
	for i := 0; i < n; i++ {
		fmt.Fprintf(&b, "GET /p/{ID}/seq/%d HTTP/1.1\r\nHost: {HOST}\r\n\r\n", i)
	}
	return b.String()
}

func bigHead(size int) string {
	var b strings.Builder
	b.WriteString("GET /p/{ID} HTTP/1.1\r\nHost: {HOST}\r\n")
	line := "X-Filler-%06d: " + strings.Repeat("a", 100) + "\r\n"
	for i := 0; b.Len() < size; i++ {
		fmt.Fprintf(&b, line, i)
	}
	b.WriteString("\r\n")
	return b.String()
}

// slowParts sends prefix, then one byte of filler every step for total.
func slowParts(prefix string, step, total time.Duration) []part {
	parts := []part{{data: prefix}}
	for d := step; d <= total; d += step {
		parts = append(parts, part{delay: step, data: "a"})
	}
	return parts
}

// normalClient: a well-formed request on another connection is answered promptly.
func normalClient(addr string) error {
	start := time.Now()
	st, err := simpleGet(addr, "/normal-client", 2*time.Second)
	if err != nil {
		return fmt.Errorf("a normal client was not served: %v", err)
	}
	if st != 200 || time.Since(start) > time.Second {
		return fmt.Errorf("a normal client got %d after %s", st, time.Since(start).Round(time.Millisecond))
	}
	return nil
}

const (
	hangWithin  = readHeaderTimeout + 1500*time.Millisecond
	hangObserve = readHeaderTimeout + 2500*time.Millisecond
)

func probes() []probe {
	// where the RFC lets the server process instead of rejecting, the alternative still
	// requires that no hidden request runs and that the connection is closed
	processedThenClosed := serve(1).closes()

	return []probe{
		// ---- request smuggling: bytes of a body must never run as a request ----
		{class: "smuggle", name: "obs-fold",
			send: post("X-Fold: a", " b", "Content-Length: {CL}") + smuggled,
			want: reject(400),
			alt:  ptr(serve(1).and("the whole rest is its body", bodyNonEmpty).and(`PHP sees X-Fold "a b"`, echoedHeader("X-Fold", "a b"))),
			why:  "RFC 9112 §5.2: MUST reject obs-fold with 400 or replace it with SP before interpreting the field (net/http unfolds, nginx rejects); fasthttp's view and request_context.go's must not differ"},
		{class: "smuggle", name: "obs-fold-framing-lookalike",
			send: post("X-Fold: a", " Content-Length: {CL}") + get("/p/{ID}/second"),
			want: reject(400),
			alt: ptr(serve(2).and("no body: the folded line is X-Fold's", bodyLens(0, 0)).
				and(`PHP sees X-Fold "a Content-Length: …"`, echoedHeaderPrefix("X-Fold", "a Content-Length: "))),
			why: "RFC 9112 §5.2: a folded line is part of the previous field's value, never a field of its own: reject, or unfold it so that no Content-Length exists"},
		{class: "smuggle", name: "te-identity",
			send: post("Transfer-Encoding: identity") + smuggled,
			want: reject(400, 501),
			why:  "RFC 9112 §6.3: Transfer-Encoding present and chunked not final: MUST 400 and close (§6.1: unknown coding SHOULD 501)"},
		{class: "smuggle", name: "te-identity+cl",
			send: post("Transfer-Encoding: identity", "Content-Length: 5") + "hello" + smuggled,
			want: reject(400, 501),
			why:  "RFC 9112 §6.3: chunked not the final coding: MUST 400 and close"},
		{class: "smuggle", name: "te-chunked+te-identity+cl",
			send: post("Transfer-Encoding: chunked", "Transfer-Encoding: identity", "Content-Length: {CL}") + "0\r\n\r\n" + smuggled,
			want: reject(400, 501),
			why:  "RFC 9112 §6.1/§6.3: the codings are chunked, identity: chunked not final: MUST 400 and close"},
		{class: "smuggle", name: "cl-vtab-name",
			send: post("Content-Length\x0b: {CL}") + smuggled,
			want: reject(400),
			why:  "RFC 9110 §5.1 field-name is a token; RFC 9112 §2.2 SHOULD 400 a message that does not match the grammar; net/http and nginx reject; PHP must never see a Content-Length the parser ignored"},
		{class: "smuggle", name: "te-vtab-name",
			send: post("Transfer-Encoding\x0b: chunked", "Content-Length: 5") + "0\r\n\r\n" + smuggled,
			want: reject(400),
			why:  "as cl-vtab-name: an invalid field name that trims to a framing header"},
		{class: "smuggle", name: "cl-space-before-colon",
			send: post("Content-Length : {CL}") + smuggled,
			want: reject(400),
			why:  "RFC 9112 §5.1: a server MUST reject with 400 whitespace between a field name and the colon"},
		{class: "smuggle", name: "te-space-before-colon",
			send: post("Transfer-Encoding : chunked", "Content-Length: 5") + "0\r\n\r\n" + smuggled,
			want: reject(400),
			why:  "RFC 9112 §5.1: MUST reject with 400 whitespace before the colon"},
		{class: "smuggle", name: "http1.0-keepalive-chunked",
			send: head("POST /p/{ID} HTTP/1.0", "Host: {HOST}", "Connection: keep-alive", "Transfer-Encoding: chunked") +
				"5\r\nhello\r\n0\r\n\r\n" + smuggled,
			want: reject(400),
			alt:  ptr(processedThenClosed),
			why:  "RFC 9112 §6.1: an HTTP/1.0 message with Transfer-Encoding MUST be treated as faulty framing and the connection closed after it"},
		{class: "smuggle", name: "http1.0-chunked+cl",
			send: head("POST /p/{ID} HTTP/1.0", "Host: {HOST}", "Connection: keep-alive", "Transfer-Encoding: chunked", "Content-Length: {CL}") +
				"0\r\n\r\n" + smuggled,
			want: reject(400),
			alt:  ptr(processedThenClosed),
			why:  "RFC 9112 §6.1: faulty framing, MUST close after"},
		{class: "smuggle", name: "chunk-size-bare-lf",
			send: post("Transfer-Encoding: chunked") + "0\nX\r\n\r\n" + smuggled,
			want: reject(400),
			why:  "RFC 9112 §7.1: chunk-size CRLF; bare LF is tolerated only for the start-line and fields (§2.2); net/http and nginx reject"},
		{class: "smuggle", name: "chunk-ext-bare-lf",
			send: post("Transfer-Encoding: chunked") + "5;a\nb\r\nhello\r\n0\r\n\r\n" + smuggled,
			want: reject(400),
			why:  "RFC 9112 §7.1.1: a chunk extension is tokens/quoted strings: a bare LF in it is invalid (the TERM.EXT differential)"},
		{class: "smuggle", name: "cl+te",
			send: post("Content-Length: {CL}", "Transfer-Encoding: chunked") + "0\r\n\r\n" + smuggled,
			want: reject(400),
			alt:  ptr(processedThenClosed.and("TE wins: body empty", bodyLens(0))),
			why:  "RFC 9112 §6.1: MAY reject a request with both, or process it by Transfer-Encoding; regardless MUST close the connection after responding"},
		{class: "smuggle", name: "te+cl",
			send: post("Transfer-Encoding: chunked", "Content-Length: {CL}") + "0\r\n\r\n" + smuggled,
			want: reject(400),
			alt:  ptr(processedThenClosed.and("TE wins: body empty", bodyLens(0))),
			why:  "RFC 9112 §6.1: MUST close after responding to a request with both"},
		{class: "smuggle", name: "te-chunked-twice",
			send: post("Transfer-Encoding: chunked", "Transfer-Encoding: chunked") + "5\r\nhello\r\n0\r\n\r\n" + smuggled,
			want: reject(400, 501),
			why:  "RFC 9112 §7: chunked MUST NOT be applied more than once; net/http (501) and nginx (400) refuse"},
		{class: "smuggle", name: "te-chunked-list-twice",
			send: post("Transfer-Encoding: chunked, chunked") + "5\r\nhello\r\n0\r\n\r\n" + smuggled,
			want: reject(400, 501),
			why:  "as te-chunked-twice, in list form"},
		{class: "smuggle", name: "te-chunked,identity (list)",
			send: post("Transfer-Encoding: chunked, identity", "Content-Length: {CL}") + "0\r\n\r\n" + smuggled,
			want: reject(400, 501),
			why:  "RFC 9112 §6.3: chunked not final: MUST 400 and close"},
		{class: "smuggle", name: "te-xchunked",
			send: post("Transfer-Encoding: xchunked", "Content-Length: {CL}") + "0\r\n\r\n" + smuggled,
			want: reject(400, 501),
			why:  "RFC 9112 §6.3: chunked not final: MUST 400 and close"},
		{class: "smuggle", name: "te-quoted",
			send: post(`Transfer-Encoding: "chunked"`, "Content-Length: {CL}") + "0\r\n\r\n" + smuggled,
			want: reject(400, 501),
			why:  "RFC 9112 §6.3: \"chunked\" is not the coding chunked: MUST 400 and close"},
		{class: "smuggle", name: "te-vtab-value",
			send: post("Transfer-Encoding:\x0bchunked", "Content-Length: {CL}") + "0\r\n\r\n" + smuggled,
			want: reject(400, 501),
			why:  "RFC 9110 §5.5: a CTL in a field value is invalid; the coding is not chunked: MUST 400 and close"},

		// ---- framing that must keep working (a fix must not over-reject) ----
		{class: "framing-ok", name: "te-Chunked-case",
			send: post("Transfer-Encoding: Chunked") + "5\r\nhello\r\n0\r\n\r\n",
			want: serve(1).keepsOpen().and("body 5", bodyLens(5)),
			why:  "RFC 9112 §7: transfer-coding names are case-insensitive"},
		{class: "framing-ok", name: "te-chunked-sp-ows",
			send: post("Transfer-Encoding:  chunked  ") + "5\r\nhello\r\n0\r\n\r\n",
			want: serve(1).keepsOpen().and("body 5", bodyLens(5)),
			why:  "RFC 9110 §5.5: OWS around a field value is not part of it"},
		{class: "framing-ok", name: "te-chunked-htab-ows",
			send: post("Transfer-Encoding:\tchunked\t") + "5\r\nhello\r\n0\r\n\r\n",
			want: serve(1).keepsOpen().and("body 5", bodyLens(5)),
			why:  "RFC 9110 §5.6.3: OWS = *( SP / HTAB ): a tab around the value is whitespace too (net/http accepts; refusing is safe but not conforming)"},
		{class: "framing-ok", name: "chunk-ext",
			send: post("Transfer-Encoding: chunked") + "5;name=value;q=\"x y\"\r\nhello\r\n0\r\n\r\n",
			want: serve(1).keepsOpen().and("body 5", bodyLens(5)),
			why:  "RFC 9112 §7.1.1: a recipient MUST ignore unrecognized chunk extensions"},
		{class: "framing-ok", name: "chunked-trailer+pipelined",
			send: post("Transfer-Encoding: chunked") + "5\r\nhello\r\n0\r\nX-Trailer: v\r\n\r\n" + get("/p/{ID}/2"),
			want: serve(2).keepsOpen().and("bodies 5, 0", bodyLens(5, 0)),
			why:  "RFC 9112 §7.1.2: a trailer section ends with an empty line; the next request follows"},
		{class: "framing-ok", name: "cl-leading-zeros",
			send: post("Content-Length: 005") + "hello",
			want: serve(1).keepsOpen().and("body 5", bodyLens(5)),
			why:  "RFC 9110 §8.6: Content-Length = 1*DIGIT"},
		{class: "framing-ok", name: "cl-list-same",
			send: post("Content-Length: 5, 5") + "hello",
			want: reject(400),
			alt:  ptr(serve(1).and("body 5", bodyLens(5))),
			why:  "RFC 9110 §8.6: a list of identical values MAY be rejected or taken as one value"},
		{class: "framing-ok", name: "post+get-pipelined",
			send: post("Content-Length: 5") + "hello" + get("/p/{ID}/2"),
			want: serve(2).keepsOpen().and("bodies 5, 0", bodyLens(5, 0)),
			why:  "the control for the smuggling probes: a body followed by a real second request"},
		{class: "framing-ok", name: "expect-100-continue",
			parts: []part{{data: post("Content-Length: 5", "Expect: 100-continue")}, {delay: 300 * time.Millisecond, data: "hello"}},
			want:  serve(1).keepsOpen().and("body 5", bodyLens(5)),
			why:   "RFC 9110 §10.1.1: 100-continue is answered (or the body simply read)"},

		{class: "framing-ok", name: "get-with-body",
			send: head("GET /p/{ID} HTTP/1.1", "Host: {HOST}", "Content-Length: {CL}") + smuggled,
			want: serve(1).keepsOpen().and("the body is consumed as a body", bodyNonEmpty),
			why:  "RFC 9112 §6: framing does not depend on the method: a GET's Content-Length body is read, never run as a request"},
		{class: "framing-ok", name: "options-with-body",
			send: head("OPTIONS /p/{ID} HTTP/1.1", "Host: {HOST}", "Content-Length: {CL}") + smuggled,
			want: serve(1).keepsOpen(),
			why:  "as get-with-body: pivot drops an OPTIONS body before PHP, but must still consume it"},
		{class: "framing-ok", name: "trailer-framing-fields",
			send: post("Transfer-Encoding: chunked") + "5\r\nhello\r\n0\r\nContent-Length: 100\r\nTransfer-Encoding: chunked\r\n\r\n" + get("/p/{ID}/2"),
			want: serve(2).keepsOpen().and("bodies 5, 0", bodyLens(5, 0)),
			alt:  ptr(reject(400)),
			why:  "RFC 9110 §6.5.1: a sender MUST NOT send framing fields in trailers; a recipient ignores them or refuses the message, and they never change the framing"},
		{class: "framing-ok", name: "connection-close-then-pipelined",
			send: get("/p/{ID}", "Connection: close") + smuggled,
			want: serve(1).closes(),
			why:  "RFC 9112 §9.6: after a request with Connection: close the server MUST close and MUST NOT process further requests on the connection"},

		// ---- CL / TE / chunk-size values that must be refused ----
		{class: "framing-bad", name: "cl-list-differ",
			send: post("Content-Length: 5, 6") + "hello!" + smuggled,
			want: reject(400),
			why:  "RFC 9110 §8.6 / RFC 9112 §6.3: differing Content-Length values: unrecoverable error, MUST 400 and close"},
		{class: "framing-bad", name: "cl-dup-differ",
			send: post("Content-Length: 5", "Content-Length: 6") + "hello!" + smuggled,
			want: reject(400),
			why:  "RFC 9112 §6.3: MUST 400 and close"},
		{class: "framing-bad", name: "cl-plus",
			send: post("Content-Length: +5") + "hello" + smuggled,
			want: reject(400),
			why:  "RFC 9110 §8.6: 1*DIGIT; RFC 9112 §6.3: invalid Content-Length MUST 400 and close"},
		{class: "framing-bad", name: "cl-hex",
			send: post("Content-Length: 0x5") + "hello" + smuggled,
			want: reject(400),
			why:  "RFC 9112 §6.3: invalid Content-Length MUST 400 and close"},
		{class: "framing-bad", name: "cl-negative",
			send: post("Content-Length: -1") + smuggled,
			want: reject(400),
			why:  "RFC 9112 §6.3: invalid Content-Length MUST 400 and close"},
		{class: "framing-bad", name: "cl-inner-space",
			send: post("Content-Length: 1 0") + "0123456789" + smuggled,
			want: reject(400),
			why:  "RFC 9112 §6.3: invalid Content-Length MUST 400 and close"},
		{class: "framing-bad", name: "cl-overflow",
			send: post("Content-Length: 99999999999999999999999") + "hello" + smuggled,
			want: reject(400, 413),
			why:  "RFC 9110 §8.6: a value that overflows MUST be treated as an error (400, or 413 as too large)"},
		{class: "framing-bad", name: "chunk-size-negative",
			send: post("Transfer-Encoding: chunked") + "-5\r\nhello\r\n0\r\n\r\n" + smuggled,
			want: reject(400),
			why:  "RFC 9112 §7.1: chunk-size = 1*HEXDIG"},
		{class: "framing-bad", name: "chunk-size-overflow",
			send: post("Transfer-Encoding: chunked") + "fffffffffffffffff1\r\nhello\r\n0\r\n\r\n" + smuggled,
			want: reject(400, 413),
			why:  "RFC 9112 §7.1: MUST anticipate large hexadecimal numerals and prevent overflow"},
		{class: "framing-bad", name: "chunk-data-overrun",
			send: post("Transfer-Encoding: chunked") + "3\r\nhello\r\n0\r\n\r\n" + smuggled,
			want: reject(400),
			why:  "RFC 9112 §7.1: chunk-data is followed by CRLF"},

		{class: "framing-bad", name: "chunk-ext-2MB",
			send: post("Transfer-Encoding: chunked") + "5;x=" + strings.Repeat("a", 2<<20) + "\r\nhello\r\n0\r\n\r\n",
			want: reject(400, 413, 431),
			why:  "RFC 9112 §7.1.1: a server ought to limit chunk extensions and answer 4xx past the limit (net/http: 4 KB per chunk line; CVE-2023-39326 class)"},

		// ---- hangs: a malformed message is answered at once, not at a timeout ----
		{class: "hang", name: "header-without-colon",
			send: head("GET /p/{ID} HTTP/1.1", "Host: {HOST}", "NoColonHere"),
			want: reject(400), observe: hangObserve,
			why: "RFC 9112 §2.2: a message that does not match the grammar SHOULD get 400 and a close; net/http and nginx answer at once"},
		{class: "hang", name: "trailer-without-colon",
			send: post("Transfer-Encoding: chunked") + "5\r\nhello\r\n0\r\nNoColonHere\r\n\r\n",
			want: reject(400), observe: hangObserve,
			why: "RFC 9112 §7.1.2: trailer-section = *(field-line CRLF); 400 at once as for a header"},
		{class: "hang", name: "chunk-size-0x",
			send: post("Transfer-Encoding: chunked") + "0x5\r\nhello\r\n0\r\n\r\n",
			want: reject(400), observe: hangObserve,
			why: "RFC 9112 §7.1: chunk-size = 1*HEXDIG; \"0x5\" is invalid: 400 at once"},
		{class: "hang", name: "chunked-bare-lf-body",
			send: post("Transfer-Encoding: chunked") + "5\nhello\n0\n\n",
			want: reject(400), observe: hangObserve,
			why: "RFC 9112 §7.1: chunk lines end with CRLF: 400 at once"},
		{class: "hang", name: "slowloris",
			parts:  slowParts("GET /p/{ID} HTTP/1.1\r\nHost: {HOST}\r\nX-Slow: ", 250*time.Millisecond, 4*time.Second),
			want:   expect{status: []int{http.StatusRequestTimeout}, responses: -1, php: 0, close: true, within: hangWithin, desc: "408 or close by read_header_timeout+1.5s, 0 to PHP, normal clients served meanwhile"},
			during: normalClient,
			why:    "pivot.read_header_timeout bounds the head; stock's http plugin hard-codes 5 min"},
		{class: "hang", name: "incomplete-head",
			send: "GET /p/{ID} HTTP/1.1\r\nHost: {HOST}\r\n",
			want: expect{status: []int{http.StatusRequestTimeout}, responses: -1, php: 0, close: true, within: hangWithin, desc: "408 or close by read_header_timeout+1.5s, 0 to PHP"},
			why:  "pivot.read_header_timeout bounds the head"},
		{class: "hang", name: "silent-connection",
			send: "",
			want: expect{status: []int{http.StatusRequestTimeout}, responses: -1, php: 0, close: true, within: hangWithin, desc: "408 or close by read_header_timeout+1.5s"},
			why:  "a connection that sends nothing is closed by read_header_timeout"},

		// ---- Host and request-target ----
		{class: "host", name: "host-with-path",
			send: head("GET /echo/{ID} HTTP/1.1", "Host: x/pid#"),
			want: reject(400),
			why:  "RFC 9112 §3.2: MUST 400 a Host with an invalid value (here PHP would route to /pid)"},
		{class: "host", name: "host-duplicate",
			send: head("GET /p/{ID} HTTP/1.1", "Host: {HOST}", "Host: other.example"),
			want: reject(400),
			why:  "RFC 9112 §3.2: MUST 400 a request with more than one Host field line"},
		{class: "host", name: "host-missing-http1.1",
			send: head("GET /p/{ID} HTTP/1.1", "X-Probe: {ID}"),
			want: reject(400),
			why:  "RFC 9112 §3.2: MUST 400 an HTTP/1.1 request without Host"},
		{class: "host", name: "host-space",
			send: head("GET /p/{ID} HTTP/1.1", "Host: a b"),
			want: reject(400),
			why:  "RFC 9112 §3.2: invalid Host value: MUST 400"},
		{class: "host", name: "host-userinfo",
			send: head("GET /p/{ID} HTTP/1.1", "Host: user@{HOST}"),
			want: reject(400),
			why:  "RFC 9110 §7.2: Host = uri-host [\":\" port], no userinfo: MUST 400 (RFC 9112 §3.2)"},
		{class: "host", name: "host-missing-http1.0",
			send: head("GET /p/{ID} HTTP/1.0"),
			want: serve(1).closes(),
			why:  "HTTP/1.0 needs no Host; no keep-alive asked: the connection closes"},
		{class: "host", name: "absolute-form-other-host",
			send: head("GET http://other.example/p/{ID} HTTP/1.1", "Host: {HOST}"),
			want: serve(1).and("PHP's host is the target's", phpHost("other.example")),
			why:  "RFC 9112 §3.2.2: with an absolute-form target the server MUST ignore Host and use the target's authority"},
		{class: "target", name: "path-nul",
			send: get("/p/{ID}/a\x00b"),
			want: reject(400),
			why:  "RFC 9112 §3.2: NUL is not in request-target; invalid request-line SHOULD 400"},
		{class: "target", name: "path-space",
			send: get("/p/{ID}/a b"),
			want: reject(400),
			why:  "RFC 9112 §3: invalid request-line SHOULD 400 (or 301); net/http and nginx 400"},
		{class: "target", name: "path-ctl",
			send: get("/p/{ID}/a\x01b"),
			want: reject(400),
			why:  "RFC 9112 §3.2: a CTL is not in request-target"},
		{class: "target", name: "path-del",
			send: get("/p/{ID}/a\x7fb"),
			want: reject(400),
			why:  "RFC 9112 §3.2: DEL is not in request-target"},
		{class: "target", name: "target-no-slash",
			send: get("p/{ID}"),
			want: reject(400),
			why:  "RFC 9112 §3.2: origin-form starts with /"},

		// ---- header fields ----
		{class: "header", name: "value-nul",
			send: get("/p/{ID}", "X-A: a\x00b"),
			want: reject(400),
			alt:  ptr(serve(1).and("NUL replaced", phpClean)),
			why:  "RFC 9110 §5.5: a value with NUL MUST be rejected or the NUL replaced with SP"},
		{class: "header", name: "value-bare-cr",
			send: get("/p/{ID}", "X-A: a\rb"),
			want: reject(400),
			alt:  ptr(serve(1).and("CR replaced", phpClean)),
			why:  "RFC 9110 §5.5 / RFC 9112 §2.2: a bare CR MUST be rejected or replaced with SP"},
		{class: "header", name: "value-bare-cr-cl",
			send: post("X-A: a\rContent-Length: {CL}") + smuggled,
			want: reject(400),
			why:  "RFC 9112 §2.2: a bare CR MUST be rejected or replaced with SP; a CR that ends a line for one parser and not another is a smuggling vector: reject (net/http and nginx do)"},
		{class: "header", name: "name-space",
			send: get("/p/{ID}", "Foo Bar: x"),
			want: reject(400),
			alt:  ptr(serve(1).and("invalid field not passed on", phpClean)),
			why:  "RFC 9110 §5.1: field-name is a token: 400 (net/http) or the field dropped (nginx ignore_invalid_headers), never passed to PHP"},
		{class: "header", name: "name-ctl",
			send: get("/p/{ID}", "X\x01A: x"),
			want: reject(400),
			alt:  ptr(serve(1).and("invalid field not passed on", phpClean)),
			why:  "RFC 9110 §5.1: field-name is a token"},
		{class: "header", name: "name-empty",
			send: get("/p/{ID}", ": x"),
			want: reject(400),
			alt:  ptr(serve(1).and("invalid field not passed on", phpClean)),
			why:  "RFC 9110 §5.1: field-name = token (1*tchar)"},
		{class: "header", name: "first-line-leading-ws",
			send: head("GET /p/{ID} HTTP/1.1", " X-A: b", "Host: {HOST}"),
			want: reject(400),
			alt:  ptr(serve(1).and("the line is ignored", phpClean)),
			why:  "RFC 9112 §2.2: whitespace before the first field MUST be rejected or the line consumed without processing"},
		{class: "header", name: "value-obs-text",
			send: get("/p/{ID}", "X-A: caf\xe9"),
			want: serve(1).keepsOpen(),
			why:  "RFC 9110 §5.5: obs-text is a valid field-vchar: must keep working"},

		// ---- request line, version, method ----
		{class: "line", name: "HTTP/0.9",
			send: head("GET /p/{ID} HTTP/0.9", "Host: {HOST}"),
			want: reject(400, 505),
			why:  "RFC 9112 §2.3: pivot speaks HTTP/1.x: 505 (or 400), not an ordinary request"},
		{class: "line", name: "HTTP/9.9",
			send: head("GET /p/{ID} HTTP/9.9", "Host: {HOST}"),
			want: reject(400, 505),
			why:  "RFC 9110 §15.6.6: major version not supported: 505"},
		{class: "line", name: "http/1.1-lowercase",
			send: head("GET /p/{ID} http/1.1", "Host: {HOST}"),
			want: reject(400, 505),
			why:  "RFC 9112 §2.3: HTTP-name is case-sensitive \"HTTP\""},
		{class: "line", name: "http2-preface",
			send:  "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n",
			match: func(r phpRecord) bool { return r.Method == "PRI" }, // only this probe sends PRI
			want:  reject(400, 505),
			why:   "RFC 9113 §3.4: the HTTP/2 preface on an HTTP/1.1-only port is not an HTTP/1.1 request: 505 (or 400), never PHP"},
		{class: "line", name: "CONNECT",
			send: head("CONNECT {ID}.example:443 HTTP/1.1", "Host: {ID}.example:443"),
			want: reject(400, 405, 501),
			why:  "RFC 9110 §9.3.6: pivot is no proxy: CONNECT is refused (501/405/400) and the tunnel bytes that follow must not be parsed as requests"},
		{class: "line", name: "method-ctl",
			send: head("G\x01T /p/{ID} HTTP/1.1", "Host: {HOST}"),
			want: reject(400, 501),
			why:  "RFC 9110 §9.1: method is a token"},
		{class: "line", name: "leading-crlf",
			send: "\r\n" + get("/p/{ID}"),
			want: serve(1).keepsOpen(),
			why:  "RFC 9112 §2.2: SHOULD ignore at least one empty line before the request-line"},
		{class: "line", name: "lf-only-head",
			send: "GET /p/{ID} HTTP/1.1\nHost: {HOST}\n\n",
			want: serve(1),
			alt:  ptr(reject(400)),
			why:  "RFC 9112 §2.2: a recipient MAY recognize a bare LF as a line terminator"},

		// ---- limits ----
		{class: "limits", name: "cl-over-max-request-size",
			send: post("Content-Length: 200000000") + "xx",
			want: reject(413),
			why:  "pivot.max_request_size (100 MB): 413 at once, before the body"},
		{class: "limits", name: "chunk-over-max-request-size",
			send: post("Transfer-Encoding: chunked") + "10000000\r\nxx",
			want: reject(413, 400),
			why:  "a 256 MB chunk exceeds max_request_size: refused at once"},
		{class: "limits", name: "expect-100-oversized",
			send: post("Content-Length: 200000000", "Expect: 100-continue"),
			want: func() expect { e := reject(413); e.noInterim = true; e.desc += ", no 100 first"; return e }(),
			why:  "RFC 9110 §10.1.1: the server MAY send the final status instead of 100; inviting a body it will refuse makes the client send it (nginx answers 413 without 100)"},
		{class: "limits", name: "head-over-max-header-bytes",
			send: bigHead(64 << 10),
			want: reject(431),
			why:  "pivot.max_header_bytes (16 KB default): 431 (RFC 6585)"},
		{class: "limits", name: "head-2MB",
			send: bigHead(2 << 20),
			want: reject(431),
			why:  "over every limit: 431, and the response is read (no reset)"},

		// ---- pipelining and keep-alive ----
		{class: "pipeline", name: "100-pipelined-in-order",
			send: pipelined(100),
			want: serve(100).keepsOpen().in(10*time.Second).and("in order", inOrder),
			why:  "RFC 9112 §9.3.2: responses in the order of the requests"},
		{class: "pipeline", name: "keep-alive",
			send: get("/p/{ID}"),
			want: serve(1).keepsOpen(),
			why:  "HTTP/1.1 connections persist by default (RFC 9112 §9.3)"},

		// ---- responses: what the app sends must not split or end the response ----
		{class: "response", name: "app-1xx-as-final",
			send: get("/_/app-1xx?probe={ID}"),
			want: expect{status: []int{200, 500, 502}, responses: 1, php: 1, within: defaultWithin, desc: "one final (non-1xx) response, 1 to PHP"},
			why:  "RFC 9110 §15.2: a 1xx is interim: the client must still get a final response"},
		{class: "response", name: "split-value-crlf",
			send: get("/_/split?probe={ID}&v=a%0d%0aX-Injected:%20yes"),
			want: expect{status: []int{200, 500, 502}, responses: 1, php: 1, within: defaultWithin, desc: "1 response, no injected header", check: noInjectedHeader},
			why:  "RFC 9110 §5.5: CR/LF in a field value must not reach the wire (response splitting)"},
		{class: "response", name: "split-value-response",
			send: get("/_/split?probe={ID}&v=a%0d%0aContent-Length:%200%0d%0a%0d%0aHTTP/1.1%20200%20OK%0d%0aX-Injected:%20yes%0d%0aContent-Length:%200%0d%0a%0d%0a"),
			want: expect{status: []int{200, 500, 502}, responses: 1, php: 1, within: defaultWithin, desc: "1 response, no injected response", check: noInjectedHeader},
			why:  "response splitting: a second response must never be injected"},
		{class: "response", name: "split-value-bare-lf",
			send: get("/_/split?probe={ID}&v=a%0aX-Injected:%20yes"),
			want: expect{status: []int{200, 500, 502}, responses: 1, php: 1, within: defaultWithin, desc: "1 response, no injected header", check: noInjectedHeader},
			why:  "a bare LF ends a line for lenient clients"},
		{class: "response", name: "split-name-crlf",
			send: get("/_/split-name?probe={ID}&v=X-A:%20b%0d%0aX-Injected"),
			want: expect{status: []int{200, 500, 502}, responses: 1, php: 1, within: defaultWithin, desc: "1 response, no injected header", check: noInjectedHeader},
			why:  "CR/LF in a field name must not reach the wire"},
	}
}

func ptr(e expect) *expect { return &e }

// TestProbes runs the probe table against pivot and stock http in one rr, then checks that no
// PHP worker was disturbed by any of it.
func TestProbes(t *testing.T) {
	inst := startInstance(t, "main", rrOptions{})
	before, err := inst.workerStarts()
	if err != nil {
		t.Fatal(err)
	}
	runTable(t, inst, probes(), "k")

	t.Run("integrity/workers-undisturbed", func(t *testing.T) {
		checkWorkers(t, inst, before)
	})
}

// checkWorkers asserts that no PHP worker was replaced since before, that both servers still
// answer, and that rr logged no panic.
func checkWorkers(t *testing.T, inst *rrInstance, before map[string][]int) {
	t.Helper()
	for _, s := range servers {
		if st, err := simpleGet(inst.addr[s], "/after", 3*time.Second); err != nil || st != 200 {
			t.Errorf("%s: a normal request after the probes: %d %v", s, st, err)
		}
	}
	after, err := inst.workerStarts()
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range servers {
		t.Logf("%s: workers started before %v, after %v", s, before[s], after[s])
		if fmt.Sprint(before[s]) != fmt.Sprint(after[s]) {
			msg := fmt.Sprintf("%s: PHP workers were replaced: before %v, after %v", s, before[s], after[s])
			if s == serverPivot {
				t.Error(msg)
			} else {
				t.Log("(reference) " + msg)
			}
		}
	}
	if strings.Contains(inst.Out.String(), "panic") {
		t.Errorf("rr logged a panic")
	}
	verdict := "PASS"
	if t.Failed() {
		verdict = "FAIL"
	}
	addSummary(summaryRow{class: "integrity", name: "workers-undisturbed (" + inst.name + ")",
		pivot: fmt.Sprintf("workers %v → %v", before[serverPivot], after[serverPivot]),
		stock: fmt.Sprintf("workers %v → %v", before[serverStock], after[serverStock]), verdict: verdict})
}
