package realtime

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/go-rod/rod"
	"github.com/pivotphp/pivotphp-runtime-roadrunner/internal/testsupport"
)

// startChat runs examples/chat's worker with its page under pivot.broadcast; pivot lines
// are added to the pivot section (pivot.ssl).
func startChat(t *testing.T, pivot string) *server {
	t.Helper()
	return startWorker(t, filepath.Join(testsupport.RepoRoot(t), "examples/chat/worker.php"), pivot, 2, "")
}

// examples/chat in headless Chromium, on the browser's own WebSocket and EventSource: a
// message published from a PHP process (not a worker: as a job consumer would) appears on
// the page. The screenshots are saved in the test's temp dir (kept with
// PIVOT_BROADCAST_SCREENSHOTS=<dir>).
func TestChatPageInHeadlessChromium(t *testing.T) {
	s := startChat(t, "")
	page := testsupport.OpenPage(t, testsupport.StartChromium(t), "about:blank")
	chatInBrowser(t, s, page, s.base(), "")
}

// The same page over pivot.ssl: Chromium loads it over HTTP/2, opens its WebSocket over
// HTTP/1.1 (wss://) and its EventSource over HTTP/2.
func TestChatPageOverTLSInHeadlessChromium(t *testing.T) {
	ssl, sslAddr, _ := sslSection(t) // chromium ignores certificate errors
	s := startChat(t, ssl)
	page := testsupport.OpenPage(t, testsupport.StartChromium(t, "ignore-certificate-errors"), "about:blank")
	chatInBrowser(t, s, page, "https://"+sslAddr, "tls-")
	if proto := testsupport.EvalJS(t, page, "performance.getEntriesByType('navigation')[0].nextHopProtocol"); proto != "h2" {
		t.Fatalf("the page came over %q, want h2", proto)
	}
}

// chatInBrowser opens base's chat page on each transport and checks a message published from
// a PHP process appears on it.
func chatInBrowser(t *testing.T, s *server, page *rod.Page, base, shot string) {
	dir := os.Getenv("PIVOT_BROADCAST_SCREENSHOTS")
	if dir == "" {
		dir = t.TempDir()
	}
	for _, transport := range []string{"websocket", "sse"} {
		t.Run(transport, func(t *testing.T) {
			testsupport.Navigate(t, page, base+"/?transport="+transport)
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
			testsupport.SaveScreenshot(t, page, filepath.Join(dir, "chat-"+shot+transport+".png"))
		})
	}
}
