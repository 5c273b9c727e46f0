package main

import (
	"context"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"
)

// The ceiling servers answer what pivot's hello route answers (checkHello, as the harness's
// preflight) over real loopback HTTP, and stop cleanly when told.
func TestCeilingServersAnswerHelloAndStop(t *testing.T) {
	for _, kind := range ceilingKinds {
		t.Run(strings.ReplaceAll(kind, "/", "_"), func(t *testing.T) {
			ln, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithCancel(context.Background())
			done := make(chan error, 1)
			go func() { done <- serveCeiling(ctx, kind, ln) }()

			client := &http.Client{Timeout: 5 * time.Second}
			for i := 0; i < 3; i++ { // keep-alive: the same connection answers again
				resp, err := client.Get("http://" + ln.Addr().String() + "/hello")
				if err != nil {
					t.Fatal(err)
				}
				body, err := io.ReadAll(resp.Body)
				resp.Body.Close()
				if err != nil {
					t.Fatal(err)
				}
				if err := checkHello(resp, body); err != nil {
					t.Fatal(err)
				}
				if resp.ContentLength != 13 || resp.Header.Get("Server") != "" {
					t.Errorf("want Content-Length 13 and no Server header (as pivot answers), got %d %q",
						resp.ContentLength, resp.Header.Get("Server"))
				}
			}
			client.CloseIdleConnections()
			cancel()
			select {
			case err := <-done:
				if err != nil {
					t.Fatalf("stop: %v", err)
				}
			case <-time.After(10 * time.Second):
				t.Fatal("the ceiling server did not stop")
			}
		})
	}
}

func TestUnknownCeilingIsAnError(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	err = serveCeiling(context.Background(), "go gin", ln)
	if err == nil || !strings.Contains(err.Error(), `unknown ceiling "go gin"`) {
		t.Fatalf("got %v", err)
	}
}
