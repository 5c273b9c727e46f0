package httpfront

import (
	"errors"
	"io"
	"net"
	"testing"
	"time"
)

// listenConns is a connListener on a loopback port, closed when the test ends.
func listenConns(t *testing.T) *connListener {
	t.Helper()
	tcp, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ln := newConnListener(tcp)
	t.Cleanup(func() { _ = ln.Close() })
	return ln
}

// acceptPair dials ln over loopback and returns the client side and the accepted server side.
func acceptPair(t *testing.T, ln *connListener) (client net.Conn, server *serverConn) {
	t.Helper()
	client, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = client.Close() })
	c, err := ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return client, c.(*serverConn)
}

func TestCloseSilentClosesOnlyConnectionsSilentForTheGrace(t *testing.T) {
	ln := listenConns(t)

	cases := []struct {
		name       string
		firstBytes string        // what the client sends before the sweep ("" = nothing)
		age        time.Duration // how long before the sweep it was accepted
		wantClosed bool
	}{
		{name: "silent past the grace", age: 2 * time.Second, wantClosed: true},
		{name: "silent within the grace", age: 0, wantClosed: false},
		{name: "started its head", firstBytes: "GET / HTTP/1.1\r\n", age: 2 * time.Second, wantClosed: false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			client, server := acceptPair(t, ln)
			if tc.firstBytes != "" {
				if _, err := io.WriteString(client, tc.firstBytes); err != nil {
					t.Fatal(err)
				}
				if _, err := server.Read(make([]byte, 64)); err != nil {
					t.Fatal(err)
				}
			}
			server.accepted = time.Now().Add(-tc.age)

			closed := ln.closeSilent(time.Now(), time.Second)

			if got := closed == 1; got != tc.wantClosed {
				t.Fatalf("closed %d connections; want closed=%v", closed, tc.wantClosed)
			}
			if !tc.wantClosed {
				return
			}
			// the server side reads a clean EOF (fasthttp then neither answers nor logs) and
			// the client sees the close without any bytes
			if n, err := server.Read(make([]byte, 8)); n != 0 || err != io.EOF {
				t.Fatalf("server read after the sweep: %d, %v; want 0, io.EOF", n, err)
			}
			if err := server.Close(); err != nil {
				t.Fatalf("closing a swept connection again: %v", err)
			}
			_ = client.SetReadDeadline(time.Now().Add(2 * time.Second))
			if n, err := client.Read(make([]byte, 8)); n != 0 || !errors.Is(err, io.EOF) {
				t.Fatalf("client read after the sweep: %d, %v; want 0, EOF", n, err)
			}
		})
	}

	// each case's connections were closed by its cleanup: none may stay tracked
	ln.mu.Lock()
	left := len(ln.silent)
	ln.mu.Unlock()
	if left != 0 {
		t.Fatalf("%d silent connections still tracked after every connection closed", left)
	}
}

// A connection closed by its client before it spoke must not stay in the silent set.
func TestSilentConnectionClosedByItsClientIsForgotten(t *testing.T) {
	ln := listenConns(t)
	client, server := acceptPair(t, ln)
	_ = client.Close()
	if n, err := server.Read(make([]byte, 8)); n != 0 || err != io.EOF {
		t.Fatalf("server read of a closed client: %d, %v", n, err)
	}
	_ = server.Close()
	ln.mu.Lock()
	left := len(ln.silent)
	ln.mu.Unlock()
	if left != 0 {
		t.Fatalf("%d silent connections tracked after the close; want 0", left)
	}
}
