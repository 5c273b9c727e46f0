package realtime

import (
	"bufio"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/pivotphp/pivotphp-runtime-roadrunner/internal/testsupport"
)

// cdp is a minimal Chrome DevTools Protocol client on one page target, over the WebSocket
// client the suite already uses. (github.com/chromedp/chromedp's served versions need go
// 1.25; go.mod says 1.22, and four commands do not justify raising it.)
type cdp struct {
	conn *websocket.Conn
	mu   sync.Mutex
	id   int
}

// call sends a command and waits for its result, skipping events.
func (c *cdp) call(t *testing.T, method string, params any, result any) {
	t.Helper()
	c.mu.Lock()
	defer c.mu.Unlock()
	c.id++
	if err := c.conn.WriteJSON(map[string]any{"id": c.id, "method": method, "params": params}); err != nil {
		t.Fatalf("cdp %s: %v", method, err)
	}
	_ = c.conn.SetReadDeadline(time.Now().Add(30 * time.Second))
	for {
		var msg struct {
			ID     int             `json:"id"`
			Result json.RawMessage `json:"result"`
			Error  *struct {
				Message string `json:"message"`
			} `json:"error"`
		}
		if err := c.conn.ReadJSON(&msg); err != nil {
			t.Fatalf("cdp %s: %v", method, err)
		}
		if msg.ID != c.id {
			continue
		}
		if msg.Error != nil {
			t.Fatalf("cdp %s: %s", method, msg.Error.Message)
		}
		if result != nil {
			if err := json.Unmarshal(msg.Result, result); err != nil {
				t.Fatalf("cdp %s: %v", method, err)
			}
		}
		return
	}
}

// eval evaluates a JavaScript expression on the page and returns its string value.
func (c *cdp) eval(t *testing.T, expr string) string {
	var r struct {
		Result struct {
			Value any `json:"value"`
		} `json:"result"`
	}
	c.call(t, "Runtime.evaluate", map[string]any{"expression": expr, "returnByValue": true}, &r)
	return fmt.Sprint(r.Result.Value)
}

// startChromium runs Debian's headless chromium and connects to its first page.
func startChromium(t *testing.T) *cdp {
	t.Helper()
	bin := testsupport.RequireBinary(t, "chromium", "chromium")
	cmd := exec.Command(bin, "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
		"--no-first-run", "--remote-debugging-address=127.0.0.1", "--remote-debugging-port=0",
		"--user-data-dir="+t.TempDir(), "--window-size=900,700", "about:blank")
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	stderr, _ := cmd.StderrPipe()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		_ = cmd.Wait()
	})
	found := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			if _, after, ok := strings.Cut(sc.Text(), "DevTools listening on "); ok {
				found <- after
			}
		}
	}()
	var browser string
	select {
	case browser = <-found:
	case <-time.After(30 * time.Second):
		t.Fatal("chromium did not print its DevTools address")
	}
	hostPort := strings.Split(strings.TrimPrefix(browser, "ws://"), "/")[0]
	var pageURL string
	testsupport.WaitFor(t, 10*time.Second, "chromium's page target", func() bool {
		resp, err := http.Get("http://" + hostPort + "/json/list")
		if err != nil {
			return false
		}
		defer resp.Body.Close()
		var targets []struct {
			Type string `json:"type"`
			WS   string `json:"webSocketDebuggerUrl"`
		}
		_ = json.NewDecoder(resp.Body).Decode(&targets)
		for _, tg := range targets {
			if tg.Type == "page" {
				pageURL = tg.WS
				return true
			}
		}
		return false
	})
	conn, _, err := websocket.DefaultDialer.Dial(pageURL, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = conn.Close() })
	return &cdp{conn: conn}
}

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
	page := startChromium(t)
	dir := os.Getenv("PIVOT_BROADCAST_SCREENSHOTS")
	if dir == "" {
		dir = t.TempDir()
	}
	for _, transport := range []string{"websocket", "sse"} {
		t.Run(transport, func(t *testing.T) {
			page.call(t, "Page.navigate", map[string]any{"url": s.base() + "/?transport=" + transport}, nil)
			testsupport.WaitFor(t, 15*time.Second, "the page connected", func() bool {
				return page.eval(t, "document.getElementById('status') && document.getElementById('status').textContent") == "connected"
			})
			text := "hello from PHP over " + transport
			msg, _ := json.Marshal(map[string]string{"from": "php", "text": text})
			out, err := exec.Command("php", filepath.Join(testsupport.RepoRoot(t), "tests/realtime/testdata/publish.php"),
				"tcp://"+s.rpc, "chat", string(msg)).CombinedOutput()
			if err != nil {
				t.Fatalf("publish.php: %v\n%s", err, out)
			}
			testsupport.WaitFor(t, 10*time.Second, "the message on the page", func() bool {
				return strings.Contains(page.eval(t, "document.getElementById('messages').innerText"), "php: "+text)
			})
			var shot struct {
				Data string `json:"data"`
			}
			page.call(t, "Page.captureScreenshot", map[string]any{"format": "png"}, &shot)
			png, err := base64.StdEncoding.DecodeString(shot.Data)
			if err != nil || len(png) < 1000 {
				t.Fatalf("screenshot: %d bytes, %v", len(png), err)
			}
			path := filepath.Join(dir, "chat-"+transport+".png")
			if err = os.WriteFile(path, png, 0o644); err != nil {
				t.Fatal(err)
			}
			t.Logf("screenshot: %s", path)
		})
	}
}
