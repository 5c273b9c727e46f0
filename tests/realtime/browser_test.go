package realtime

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/pivotphp/pivotphp-runtime-roadrunner/internal/testsupport"
)

// startChat runs examples/chat's worker with its page under pivot.broadcast.
func startChat(t *testing.T) *server {
	t.Helper()
	s := &server{addr: testsupport.FreeAddr(t), rpc: testsupport.FreeAddr(t)}
	root := testsupport.RepoRoot(t)
	yaml := fmt.Sprintf(`version: "3"
rpc:
  listen: tcp://%s
server:
  command: "php %s"
logs:
  level: warn
  mode: production
pivot:
  address: %s
  pool:
    num_workers: 2
  broadcast:
    path: /connection
    sse_path: /events
`, s.rpc, filepath.Join(root, "examples/chat/worker.php"), s.addr)
	s.RR = testsupport.StartRR(t, yaml, testsupport.RROptions{StopTimeout: 10 * time.Second})
	s.WaitReady(t, 30*time.Second, testsupport.HTTPAnswers(s.base()+"/", 200))
	return s
}

// examples/chat in headless Chromium, on the browser's own WebSocket and EventSource: a
// message published from a PHP process (not a worker: as a job consumer would) appears on
// the page. The screenshots are saved in the test's temp dir (kept with
// PIVOT_BROADCAST_SCREENSHOTS=<dir>).
func TestChatPageInHeadlessChromium(t *testing.T) {
	s := startChat(t)
	page := testsupport.OpenPage(t, testsupport.StartChromium(t), "about:blank")
	dir := os.Getenv("PIVOT_BROADCAST_SCREENSHOTS")
	if dir == "" {
		dir = t.TempDir()
	}
	for _, transport := range []string{"websocket", "sse"} {
		t.Run(transport, func(t *testing.T) {
			testsupport.Navigate(t, page, s.base()+"/?transport="+transport)
			testsupport.WaitFor(t, 15*time.Second, "the page connected", func() bool {
				return testsupport.EvalJS(t, page, "(document.getElementById('status') || {}).textContent") == "connected"
			})
			text := "hello from PHP over " + transport
			msg, _ := json.Marshal(map[string]string{"from": "php", "text": text})
			out, err := exec.Command("php", filepath.Join(testsupport.RepoRoot(t), "tests/realtime/testdata/publish.php"),
				"tcp://"+s.rpc, "chat", string(msg)).CombinedOutput()
			if err != nil {
				t.Fatalf("publish.php: %v\n%s", err, out)
			}
			testsupport.WaitFor(t, 10*time.Second, "the message on the page", func() bool {
				return strings.Contains(testsupport.EvalJS(t, page, "document.getElementById('messages').innerText"), "php: "+text)
			})
			testsupport.SaveScreenshot(t, page, filepath.Join(dir, "chat-"+transport+".png"))
		})
	}
}
