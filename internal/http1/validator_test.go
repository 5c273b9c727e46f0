package http1

import (
	"bufio"
	"bytes"
	"io"
	"net/http"
	"strings"
	"testing"
)

var testLimits = Limits{MaxHead: 1024, MaxBody: 1000}

// feedAll feeds in as one read and returns how many bytes passed and the error.
func feedAll(in string) (int, *Error) {
	return New(testLimits).Feed([]byte(in))
}

func TestValidRequestsPassWhole(t *testing.T) {
	cases := []struct{ name, in string }{
		{"get", "GET / HTTP/1.1\r\nHost: example.com\r\n\r\n"},
		{"leading empty line", "\r\nGET / HTTP/1.1\r\nHost: x\r\n\r\n"},
		{"http/1.0 without host", "GET /a?b=c HTTP/1.0\r\n\r\n"},
		{"empty host", "GET / HTTP/1.1\r\nHost:\r\n\r\n"},
		{"host with port and ipv6", "GET / HTTP/1.1\r\nHost: [::1]:8080\r\n\r\n"},
		{"absolute form", "GET http://example.com/x HTTP/1.1\r\nHost: example.com\r\n\r\n"},
		{"options asterisk", "OPTIONS * HTTP/1.1\r\nHost: x\r\n\r\n"},
		{"content-length body", "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello"},
		{"zero length", "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n"},
		{"chunked", "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n"},
		{"chunked ext and trailer", "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: Chunked\r\n\r\n5;a=b ; c\r\nhello\r\nA\r\n0123456789\r\n0\r\nX-Sum: 1\r\n\r\n"},
		{"utf-8 path and obs-text value", "GET /caf\xc3\xa9 HTTP/1.1\r\nHost: x\r\nX-Name: caf\xc3\xa9\r\n\r\n"},
		{"tab in value", "GET / HTTP/1.1\r\nHost: x\r\nX: a\tb\r\n\r\n"},
		{"pipelined", "GET /1 HTTP/1.1\r\nHost: x\r\n\r\nPOST /2 HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\nhiGET /3 HTTP/1.1\r\nHost: x\r\n\r\n"},
		{"body of exactly the limit", "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\n" + strings.Repeat("a", 1000)},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			n, err := feedAll(c.in)
			if err != nil || n != len(c.in) {
				t.Fatalf("passed %d of %d bytes: %v", n, len(c.in), err)
			}
			// and byte by byte: the same answer whatever the reads
			v := New(testLimits)
			for i := 0; i < len(c.in); i++ {
				if n, err := v.Feed([]byte{c.in[i]}); err != nil || n != 1 {
					t.Fatalf("byte %d (%q): %v", i, c.in[i], err)
				}
			}
			if v.MidRequest() {
				t.Fatal("the validator thinks a request is still going on")
			}
		})
	}
}

func TestRefusedRequests(t *testing.T) {
	const host = "Host: x\r\n"
	cases := []struct {
		name, in string
		status   int
		// passed is how many bytes go on before the refusal (-1: check only the status)
		passed int
	}{
		{"obs-fold", "POST / HTTP/1.1\r\n" + host + "X: a\r\n b\r\nContent-Length: 0\r\n\r\n", 400, -1},
		{"te identity", "POST / HTTP/1.1\r\n" + host + "Transfer-Encoding: identity\r\n\r\n", 400, -1},
		{"te chunked, identity", "POST / HTTP/1.1\r\n" + host + "Transfer-Encoding: chunked, identity\r\n\r\n", 400, -1},
		{"te gzip, chunked", "POST / HTTP/1.1\r\n" + host + "Transfer-Encoding: gzip, chunked\r\n\r\n", 501, -1},
		{"te twice", "POST / HTTP/1.1\r\n" + host + "Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n", 400, -1},
		{"te and cl", "POST / HTTP/1.1\r\n" + host + "Transfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n", 400, -1},
		{"invalid name", "POST / HTTP/1.1\r\n" + host + "Content-Length\v: 5\r\n\r\n", 400, -1},
		{"space before colon", "POST / HTTP/1.1\r\n" + host + "Content-Length : 5\r\n\r\n", 400, -1},
		{"http/1.0 chunked", "POST / HTTP/1.0\r\nConnection: keep-alive\r\nTransfer-Encoding: chunked\r\n\r\n", 400, -1},
		{"bare lf in head", "GET / HTTP/1.1\nHost: x\r\n\r\n", 400, 0},
		{"bare lf chunk line", "POST / HTTP/1.1\r\n" + host + "Transfer-Encoding: chunked\r\n\r\n5\nhello\r\n0\r\n\r\n", 400, -1},
		{"chunk size 0x5", "POST / HTTP/1.1\r\n" + host + "Transfer-Encoding: chunked\r\n\r\n0x5\r\nhello\r\n0\r\n\r\n", 400, -1},
		{"chunk without crlf", "POST / HTTP/1.1\r\n" + host + "Transfer-Encoding: chunked\r\n\r\n5\r\nhelloX\r\n0\r\n\r\n", 400, -1},
		{"chunk ext with lf", "POST / HTTP/1.1\r\n" + host + "Transfer-Encoding: chunked\r\n\r\n5;a\nb\r\nhello\r\n0\r\n\r\n", 400, -1},
		{"chunk size overflow", "POST / HTTP/1.1\r\n" + host + "Transfer-Encoding: chunked\r\n\r\nffffffffffffffffff\r\n", 400, -1},
		{"chunked over the limit", "POST / HTTP/1.1\r\n" + host + "Transfer-Encoding: chunked\r\n\r\n3e9\r\n", 413, -1},
		{"trailer without colon", "POST / HTTP/1.1\r\n" + host + "Transfer-Encoding: chunked\r\n\r\n0\r\nnocolon\r\n\r\n", 400, -1},
		{"trailer content-length", "POST / HTTP/1.1\r\n" + host + "Transfer-Encoding: chunked\r\n\r\n0\r\nContent-Length: 5\r\n\r\n", 400, -1},
		{"header without colon", "GET / HTTP/1.1\r\n" + host + "nocolon\r\n\r\n", 400, len("GET / HTTP/1.1\r\n" + host)},
		{"two hosts", "GET / HTTP/1.1\r\n" + host + host + "\r\n", 400, -1},
		{"no host", "GET / HTTP/1.1\r\nX: y\r\n\r\n", 400, -1},
		{"host with path", "GET /echo HTTP/1.1\r\nHost: x/pid#\r\n\r\n", 400, -1},
		{"host with space", "GET / HTTP/1.1\r\nHost: a b\r\n\r\n", 400, -1},
		{"two content-lengths", "POST / HTTP/1.1\r\n" + host + "Content-Length: 1\r\nContent-Length: 1\r\n\r\n", 400, -1},
		{"content-length list", "POST / HTTP/1.1\r\n" + host + "Content-Length: 1, 1\r\n\r\n", 400, -1},
		{"content-length sign", "POST / HTTP/1.1\r\n" + host + "Content-Length: +1\r\n\r\n", 400, -1},
		{"content-length overflow", "POST / HTTP/1.1\r\n" + host + "Content-Length: 99999999999999999999\r\n\r\n", 400, -1},
		{"body over the limit", "POST / HTTP/1.1\r\n" + host + "Content-Length: 1001\r\n\r\n", 413, -1},
		{"nul in path", "GET /a\x00b HTTP/1.1\r\n" + host + "\r\n", 400, 0},
		{"space in path", "GET /a b HTTP/1.1\r\n" + host + "\r\n", 400, 0},
		{"control in path", "GET /a\x01 HTTP/1.1\r\n" + host + "\r\n", 400, 0},
		{"fragment in target", "GET /a#b HTTP/1.1\r\n" + host + "\r\n", 400, 0},
		{"nul in value", "GET / HTTP/1.1\r\n" + host + "X: a\x00b\r\n\r\n", 400, -1},
		{"cr in value", "GET / HTTP/1.1\r\n" + host + "X: a\rb\r\n\r\n", 400, -1},
		{"http/0.9", "GET /\r\n\r\n", 400, 0},
		{"http/9.9", "GET / HTTP/9.9\r\n" + host + "\r\n", 505, 0},
		{"http/2 preface", "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", 505, 0},
		{"connect", "CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n", 501, 0},
		{"asterisk for get", "GET * HTTP/1.1\r\n" + host + "\r\n", 400, 0},
		{"relative target", "GET a/b HTTP/1.1\r\n" + host + "\r\n", 400, 0},
		{"lowercase version", "GET / http/1.1\r\n" + host + "\r\n", 400, 0},
		{"method not a token", "G(T / HTTP/1.1\r\n" + host + "\r\n", 400, 0},
		{"head too large", "GET / HTTP/1.1\r\n" + host + "X: " + strings.Repeat("a", 1100) + "\r\n\r\n", 431, -1},
		{"too many empty lines", "\r\n\r\n\r\n\r\n\r\nGET / HTTP/1.1\r\n" + host + "\r\n", 400, -1},
		// the lines of a head go on as they are found valid, never the empty line that ends it
		{"second request smuggled", "GET / HTTP/1.1\r\n" + host + "\r\nGET /x HTTP/1.1\r\nTransfer-Encoding: identity\r\n" + host + "\r\n", 400, len("GET / HTTP/1.1\r\n" + host + "\r\nGET /x HTTP/1.1\r\nTransfer-Encoding: identity\r\n" + host)},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			n, err := feedAll(c.in)
			if err == nil || err.Status != c.status {
				t.Fatalf("got %v after %d bytes, want %d", err, n, c.status)
			}
			if c.passed >= 0 && n != c.passed {
				t.Fatalf("passed %d bytes before the refusal, want %d", n, c.passed)
			}
			// byte by byte: the same refusal; more bytes may go on (a line is passed as it
			// arrives, before its end shows whether it is valid), never a complete invalid head
			v := New(testLimits)
			total := 0
			for i := 0; i < len(c.in); i++ {
				k, e := v.Feed([]byte{c.in[i]})
				total += k
				if e != nil {
					if e.Status != c.status || total < n {
						t.Fatalf("byte by byte: %v after %d bytes; whole: %v after %d", e, total, err, n)
					}
					return
				}
			}
			t.Fatal("byte by byte: no refusal")
		})
	}
}

func TestAfterARefusalNothingPasses(t *testing.T) {
	v := New(testLimits)
	if _, err := v.Feed([]byte("GET / HTTP/9.9\r\n")); err == nil {
		t.Fatal("no refusal")
	}
	if n, err := v.Feed([]byte("GET / HTTP/1.1\r\nHost: x\r\n\r\n")); n != 0 || err == nil {
		t.Fatalf("after a refusal %d bytes passed (%v)", n, err)
	}
}

// Started says whether the refused request had bytes passed already: on a keep-alive
// connection, a server that read nothing of it would close without a response.
func TestStarted(t *testing.T) {
	for _, c := range []struct {
		in      string
		started bool
	}{
		{"GET / HTTP/9.9\r\n", false},
		{"GET / HTTP/1.1\r\nHost: x\r\n\r\nGET / HTTP/9.9\r\n", false},
		{"GET / HTTP/1.1\r\nHost: a/b\r\n\r\n", true},
		{"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", true},
	} {
		v := New(testLimits)
		if _, err := v.Feed([]byte(c.in)); err == nil {
			t.Fatalf("%q: no refusal", c.in)
		}
		if v.Started() != c.started {
			t.Fatalf("%q: started %v, want %v", c.in, v.Started(), c.started)
		}
	}
	// a request line split over two reads: its first part went on
	v := New(testLimits)
	_, _ = v.Feed([]byte("GET / HT"))
	if _, err := v.Feed([]byte("TP/9.9\r\n")); err == nil || !v.Started() {
		t.Fatalf("split request line: %v, started %v", err, v.Started())
	}
}

// FuzzValidatorAgreesWithNetHTTP: whatever the input and however it is split into reads, the
// validator gives the same answer; and every request it lets through whole is one that Go's
// net/http server reads too, with the same body.
func FuzzValidatorAgreesWithNetHTTP(f *testing.F) {
	seeds := []string{
		"GET / HTTP/1.1\r\nHost: x\r\n\r\n",
		"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello",
		"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n5;e=1\r\nhello\r\n0\r\nT: v\r\n\r\n",
		"POST / HTTP/1.1\r\nHost: x\r\nX: a\r\n b\r\nContent-Length: 0\r\n\r\n",
		"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n5\nhello\r\n0\r\n\r\n",
		"GET / HTTP/1.0\r\n\r\nGET /2 HTTP/1.1\r\nHost: y\r\n\r\n",
		"OPTIONS * HTTP/1.1\r\nHost: x\r\n\r\n",
	}
	for _, s := range seeds {
		f.Add([]byte(s), uint8(3))
	}
	f.Fuzz(func(t *testing.T, in []byte, split uint8) {
		whole := New(testLimits)
		n, err := whole.Feed(in)
		// split reads
		parts := New(testLimits)
		step := int(split)%17 + 1
		total := 0
		var perr *Error
		for i := 0; i < len(in) && perr == nil; i += step {
			end := min(i+step, len(in))
			k, e := parts.Feed(in[i:end])
			total += k
			perr = e
		}
		if (err == nil) != (perr == nil) || err == nil && total != n || err != nil && (err.Status != perr.Status || total < n) {
			t.Fatalf("whole: %d, %v; in reads of %d: %d, %v", n, err, step, total, perr)
		}
		if err != nil || whole.MidRequest() {
			return
		}
		// every request passed whole must be read by net/http with the same framing
		br := bufio.NewReader(bytes.NewReader(in))
		for {
			if _, e := br.Peek(1); e == io.EOF {
				return
			}
			// net/http skips no leading empty lines; the validator allows a few
			for {
				b, _ := br.Peek(2)
				if string(b) != "\r\n" {
					break
				}
				_, _ = br.Discard(2)
			}
			if _, e := br.Peek(1); e == io.EOF {
				return
			}
			req, e := http.ReadRequest(br)
			if e != nil {
				t.Fatalf("the validator passed %q, net/http refuses it: %v", in, e)
			}
			if _, e = io.Copy(io.Discard, req.Body); e != nil {
				t.Fatalf("the validator passed %q, net/http cannot read its body: %v", in, e)
			}
		}
	})
}

// Refused names the request the error belongs to: one whose trailer is bad is refused even if
// its body went through; the request before it is not.
func TestRefusedNamesTheRequest(t *testing.T) {
	v := New(testLimits)
	in := "GET /1 HTTP/1.1\r\nHost: x\r\n\r\n" +
		"POST /2 HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\nnocolon\r\n\r\n"
	if _, err := v.Feed([]byte(in)); err == nil {
		t.Fatal("no refusal")
	}
	if v.Refused(1) != nil || v.Refused(2) == nil || v.Refused(3) != nil {
		t.Fatalf("refused: 1 %v, 2 %v, 3 %v", v.Refused(1), v.Refused(2), v.Refused(3))
	}
}

// BenchmarkFeed is the check's cost per request: wrk's hello request, and a browser-like head.
func BenchmarkFeed(b *testing.B) {
	for _, c := range []struct{ name, req string }{
		{"wrk_hello", "GET /hello HTTP/1.1\r\nHost: 127.0.0.1:8080\r\n\r\n"},
		{"browser_head", "GET /app/orders?page=2&sort=date HTTP/1.1\r\nHost: shop.example.com\r\n" +
			"User-Agent: Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0 Safari/537.36\r\n" +
			"Accept: text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8\r\nAccept-Language: en-US,en;q=0.9\r\n" +
			"Accept-Encoding: gzip, deflate, br\r\nCookie: session=abcdef0123456789; theme=dark; consent=1\r\n" +
			"Connection: keep-alive\r\n\r\n"},
		{"post_1KB", "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 1024\r\n\r\n" + strings.Repeat("a", 1024)},
	} {
		b.Run(c.name, func(b *testing.B) {
			in := []byte(c.req)
			v := New(Limits{MaxHead: 16 << 10, MaxBody: 100 << 20})
			b.SetBytes(int64(len(in)))
			b.ReportAllocs()
			for i := 0; i < b.N; i++ {
				if _, err := v.Feed(in); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
