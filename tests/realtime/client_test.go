package realtime

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/gorilla/websocket"
)

// wsClient speaks centrifuge's JSON protocol (v2) over a plain WebSocket, as the browser
// snippet in examples/chat does: commands with ids, replies with the same id, pushes with a
// channel, and `{}` pings answered with `{}`.
type wsClient struct {
	conn   *websocket.Conn
	wmu    sync.Mutex
	mu     sync.Mutex
	nextID int
	wait   map[int]chan reply
	// onPub is called from the reader goroutine for each publication
	onPub  func(channel, data string)
	closed chan struct{}
	// closeCode and closeText are the close frame's, once closed
	closeCode int
	closeText string
	// pushFrames and pushes count the WebSocket frames that carried publications, and the
	// publications (a write_delay that batches shows as fewer frames than publications)
	pushFrames, pushes atomic.Int64
}

type reply struct {
	ID    int             `json:"id"`
	Error *protoError     `json:"error"`
	Push  *pushMsg        `json:"push"`
	Raw   json.RawMessage `json:"-"`
}

type protoError struct {
	Code    int    `json:"code"`
	Message string `json:"message"`
}

type pushMsg struct {
	Channel string `json:"channel"`
	Pub     *struct {
		Data json.RawMessage `json:"data"`
	} `json:"pub"`
}

// dialWS opens a WebSocket with cookies; a refused handshake returns its HTTP status.
func dialWS(url string, cookies map[string]string, onPub func(channel, data string)) (*wsClient, int, error) {
	return dialWSWith(websocket.Dialer{HandshakeTimeout: 10 * time.Second}, url, cookies, onPub)
}

// dialWSWith is dialWS through d (wss:// with its TLS configuration).
func dialWSWith(d websocket.Dialer, url string, cookies map[string]string, onPub func(channel, data string)) (*wsClient, int, error) {
	h := http.Header{}
	var parts []string
	for k, v := range cookies {
		parts = append(parts, k+"="+v)
	}
	if len(parts) > 0 {
		h.Set("Cookie", strings.Join(parts, "; "))
	}
	conn, resp, err := d.Dial(url, h)
	if err != nil {
		status := 0
		if resp != nil {
			status = resp.StatusCode
		}
		return nil, status, err
	}
	c := &wsClient{conn: conn, wait: map[int]chan reply{}, onPub: onPub, closed: make(chan struct{})}
	go c.read()
	if _, err = c.call(`"connect":{}`); err != nil {
		_ = conn.Close()
		return nil, 101, err
	}
	return c, 101, nil
}

func (c *wsClient) read() {
	defer close(c.closed)
	var buf bytes.Buffer // reused: 2,000 clients in one test process
	for {
		_, r, err := c.conn.NextReader()
		if err == nil {
			buf.Reset()
			_, err = buf.ReadFrom(r)
		}
		msg := buf.Bytes()
		if err != nil {
			if ce, ok := err.(*websocket.CloseError); ok {
				c.closeCode, c.closeText = ce.Code, ce.Text
			}
			return
		}
		framePushes := c.pushes.Load()
		for len(msg) > 0 {
			line := msg
			if i := bytes.IndexByte(msg, '\n'); i >= 0 {
				line, msg = msg[:i], msg[i+1:]
			} else {
				msg = nil
			}
			if len(line) == 0 {
				continue
			}
			if string(line) == "{}" {
				c.write([]byte("{}")) // pong
				continue
			}
			if ch, data, ok := parsePush(line); ok {
				c.pushes.Add(1)
				if c.onPub != nil {
					c.onPub(ch, data)
				}
				continue
			}
			var r reply
			if err := json.Unmarshal(line, &r); err != nil {
				continue
			}
			if r.ID > 0 {
				r.Raw = append(json.RawMessage(nil), line...)
				c.mu.Lock()
				ch := c.wait[r.ID]
				delete(c.wait, r.ID)
				c.mu.Unlock()
				if ch != nil {
					ch <- r
				}
				continue
			}
			if r.Push != nil && r.Push.Pub != nil {
				var s string
				if json.Unmarshal(r.Push.Pub.Data, &s) == nil {
					c.pushes.Add(1)
					if c.onPub != nil {
						c.onPub(r.Push.Channel, s)
					}
				}
			}
		}
		if c.pushes.Load() != framePushes {
			c.pushFrames.Add(1)
		}
	}
}

// parsePush reads the one shape a publication of a JSON string takes in centrifuge's JSON
// protocol, {"push":{"channel":"…","pub":{"data":"…"}}}, where neither string has an escape
// or a control character: those bytes are the strings themselves, so it gives exactly what
// encoding/json would, without its reflection and allocations (2,000 clients share the box
// with rr in the load test). Anything else (offsets, tags, escapes, other pushes) is not
// ok, and goes through encoding/json.
func parsePush(line []byte) (channel, data string, ok bool) {
	rest, found := bytes.CutPrefix(line, []byte(`{"push":{"channel":"`))
	if !found {
		return "", "", false
	}
	ch, rest, ok := plainString(rest)
	if !ok {
		return "", "", false
	}
	if rest, found = bytes.CutPrefix(rest, []byte(`,"pub":{"data":"`)); !found {
		return "", "", false
	}
	d, rest, ok := plainString(rest)
	if !ok || string(rest) != "}}}" || !utf8.Valid(ch) || !utf8.Valid(d) {
		return "", "", false
	}
	return string(ch), string(d), true
}

// plainString splits b (just after a JSON string's opening quote) at its closing quote; a
// backslash or a control character is not ok (encoding/json decides those, and invalid
// UTF-8).
func plainString(b []byte) (s, rest []byte, ok bool) {
	for i, c := range b {
		switch {
		case c == '"':
			return b[:i], b[i+1:], true
		case c == '\\' || c < 0x20:
			return nil, nil, false
		}
	}
	return nil, nil, false
}

func (c *wsClient) write(b []byte) {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	_ = c.conn.SetWriteDeadline(time.Now().Add(5 * time.Second))
	_ = c.conn.WriteMessage(websocket.TextMessage, b)
}

// call sends one command and waits for its reply (an error reply is an error).
func (c *wsClient) call(cmd string) (reply, error) {
	c.mu.Lock()
	c.nextID++
	id := c.nextID
	ch := make(chan reply, 1)
	c.wait[id] = ch
	c.mu.Unlock()
	c.write([]byte(fmt.Sprintf(`{"id":%d,%s}`, id, cmd)))
	select {
	case r := <-ch:
		if r.Error != nil {
			return r, fmt.Errorf("error %d: %s", r.Error.Code, r.Error.Message)
		}
		return r, nil
	case <-c.closed:
		return reply{}, fmt.Errorf("closed (%d %s) before the reply to %s", c.closeCode, c.closeText, cmd)
	case <-time.After(15 * time.Second):
		return reply{}, fmt.Errorf("no reply to %s", cmd)
	}
}

func (c *wsClient) subscribe(channel string) (reply, error) {
	return c.call(fmt.Sprintf(`"subscribe":{"channel":%q}`, channel))
}

func (c *wsClient) Close() { _ = c.conn.Close() }

// inbox collects publications in arrival order.
type inbox struct {
	mu   sync.Mutex
	msgs []string // "channel:data"
}

func (b *inbox) add(channel, data string) {
	b.mu.Lock()
	b.msgs = append(b.msgs, channel+":"+data)
	b.mu.Unlock()
}

func (b *inbox) all() []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]string(nil), b.msgs...)
}

func (b *inbox) waitFor(t *testing.T, n int, within time.Duration) []string {
	t.Helper()
	deadline := time.Now().Add(within)
	for time.Now().Before(deadline) {
		if got := b.all(); len(got) >= n {
			return got
		}
		time.Sleep(10 * time.Millisecond)
	}
	got := b.all()
	last := ""
	if len(got) > 0 {
		last = got[len(got)-1]
		if len(last) > 60 {
			last = last[:60] + "…"
		}
	}
	t.Fatalf("got %d of %d messages within %s (the last: %q)", len(got), n, within, last)
	return nil
}

// TestParsePushAgreesWithEncodingJSON: the reader's fast path gives what encoding/json gives
// for the lines it takes, and leaves every other line to encoding/json.
func TestParsePushAgreesWithEncodingJSON(t *testing.T) {
	for _, tc := range []struct {
		line string
		fast bool
	}{
		{`{"push":{"channel":"load.3","pub":{"data":"1765000000000000|13"}}}`, true},
		{`{"push":{"channel":"a","pub":{"data":""}}}`, true},
		{`{"push":{"channel":"a","pub":{"data":"é ü"}}}`, true},
		{`{"push":{"channel":"a","pub":{"data":"x\"y"}}}`, false},
		{`{"push":{"channel":"a","pub":{"data":"x\u0041"}}}`, false},
		{`{"push":{"channel":"a","pub":{"data":"x","offset":3}}}`, false},
		{`{"push":{"channel":"a","pub":{"data":{"k":1}}}}`, false},
		{`{"push":{"channel":"a","pub":{"data":"x"}}} `, false},
		{`{"push":{"channel":"a","join":{"info":{"user":"u"}}}}`, false},
		{"{\"push\":{\"channel\":\"a\",\"pub\":{\"data\":\"x\ty\"}}}", false},
		{`{"id":1,"connect":{}}`, false},
		{"{\"push\":{\"channel\":\"a\",\"pub\":{\"data\":\"\xff\"}}}", false},
	} {
		ch, data, ok := parsePush([]byte(tc.line))
		if ok != tc.fast {
			t.Errorf("%s: fast path %v, want %v", tc.line, ok, tc.fast)
			continue
		}
		if !ok {
			continue
		}
		var r reply
		var s string
		if err := json.Unmarshal([]byte(tc.line), &r); err != nil || r.Push == nil || r.Push.Pub == nil {
			t.Fatalf("%s: encoding/json: %v", tc.line, err)
		}
		if err := json.Unmarshal(r.Push.Pub.Data, &s); err != nil {
			t.Fatalf("%s: encoding/json: %v", tc.line, err)
		}
		if ch != r.Push.Channel || data != s {
			t.Errorf("%s: fast path %q %q, encoding/json %q %q", tc.line, ch, data, r.Push.Channel, s)
		}
	}
}
