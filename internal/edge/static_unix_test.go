//go:build unix

package edge

import (
	"path/filepath"
	"syscall"
	"testing"
	"time"
)

// A FIFO (or any file that is not a regular one) is never opened: opening a FIFO would block
// the request until a writer comes.
func TestStaticNeverOpensAFIFO(t *testing.T) {
	root, _ := staticTree(t)
	if err := syscall.Mkfifo(filepath.Join(root, "pipe.txt"), 0o644); err != nil {
		t.Skipf("mkfifo: %v", err)
	}
	done := make(chan int, 1)
	go func() {
		resp, _ := exchange(t, newStatic(t, StaticConfig{Dir: root}), get("/pipe.txt"))
		done <- resp.StatusCode
	}()
	select {
	case status := <-done:
		if status != 299 {
			t.Fatalf("status %d, want the request to go to PHP", status)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the request hangs on the FIFO")
	}
}
