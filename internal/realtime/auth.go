package realtime

import (
	"encoding/json"
	"fmt"
	"net"
	"strings"
	"time"

	"github.com/valyala/fasthttp"
)

// The auth route (pivot.broadcast.auth_route) is asked on every connect and subscribe. pivot
// POSTs a JSON body to it through the HTTP pool, with the client's own request headers (its
// cookies, Authorization, Origin, User-Agent) and address:
//
//	{"action":"connect","transport":"websocket","path":"/connection","query":"..."}
//	{"action":"subscribe","transport":"websocket","channel":"room.1","user":"42",...}
//
// PHP answers 200 with {"allow":true,"user":"42","channels":["user.42"],"info":{...}}:
// `user` and `channels` (subscribed at once, server-side) count on connect only. Anything
// else denies: {"allow":false,"reason":"..."}, or a 401/403. Other statuses (a 404: no such
// route; a 5xx: a broken worker) are errors: the client gets 503, never a hang.

type grantKey struct{}

// grant is what PHP allowed a connection, kept in its context for later subscriptions.
type grant struct {
	User     string
	Channels []string
	Info     []byte
	req      *clientRequest
}

// clientRequest is a copy of the client's upgrade or EventSource request: what PHP sees.
type clientRequest struct {
	head      fasthttp.RequestHeader
	remote    net.Addr
	transport string
}

// answer is the auth route's JSON.
type answer struct {
	Allow    bool            `json:"allow"`
	User     string          `json:"user"`
	Channels []string        `json:"channels"`
	Info     json.RawMessage `json:"info"`
	Reason   string          `json:"reason"`
}

type askBody struct {
	Action    string `json:"action"`
	Transport string `json:"transport"`
	Path      string `json:"path"`
	Query     string `json:"query,omitempty"`
	Channel   string `json:"channel,omitempty"`
	User      string `json:"user,omitempty"`
}

// errPHP is an auth route that did not answer allow or deny.
type errPHP struct {
	status int
	msg    string
}

func (e *errPHP) Error() string { return e.msg }

// hopHeaders are the client's headers PHP must not see as its own request's.
var hopHeaders = []string{"Connection", "Upgrade", "Sec-WebSocket-Key", "Sec-WebSocket-Version",
	"Sec-WebSocket-Extensions", "Sec-WebSocket-Protocol", "Content-Length", "Transfer-Encoding",
	"Content-Type", "Accept-Encoding", "Keep-Alive"}

func newClientRequest(ctx *fasthttp.RequestCtx, transport string) *clientRequest {
	r := &clientRequest{remote: ctx.RemoteAddr(), transport: transport}
	ctx.Request.Header.CopyTo(&r.head)
	return r
}

// ask runs the auth route on a PHP worker and reads its verdict.
func (h *Hub) ask(r *clientRequest, action, channel, user string) (answer, error) {
	path, query, _ := strings.Cut(string(r.head.RequestURI()), "?")
	body, err := json.Marshal(askBody{Action: action, Transport: r.transport, Path: path, Query: query,
		Channel: channel, User: user})
	if err != nil {
		return answer{}, err
	}
	var req fasthttp.Request
	r.head.CopyTo(&req.Header)
	for _, k := range hopHeaders {
		req.Header.Del(k)
	}
	req.Header.SetMethod(fasthttp.MethodPost)
	req.Header.SetRequestURI(h.cfg.AuthRoute)
	req.Header.SetContentType("application/json")
	req.Header.Set("X-Pivot-Broadcast", action)
	req.SetBody(body)

	rc := &fasthttp.RequestCtx{}
	rc.Init(&req, r.remote, nil)
	done := make(chan struct{})
	go func() {
		defer close(done)
		h.php(rc)
	}()
	t := time.NewTimer(h.cfg.AuthTimeout)
	defer t.Stop()
	select {
	case <-done:
	case <-t.C:
		return answer{}, &errPHP{status: fasthttp.StatusServiceUnavailable,
			msg: fmt.Sprintf("%s did not answer within pivot.broadcast.auth_timeout (%s)", h.cfg.AuthRoute, h.cfg.AuthTimeout)}
	}
	status := rc.Response.StatusCode()
	switch {
	case status == fasthttp.StatusUnauthorized || status == fasthttp.StatusForbidden:
		return answer{Reason: string(rc.Response.Body())}, nil
	case status != fasthttp.StatusOK:
		return answer{}, &errPHP{status: fasthttp.StatusServiceUnavailable,
			msg: fmt.Sprintf("%s answered %d (it must answer 200 with {\"allow\":...}, or 401/403)", h.cfg.AuthRoute, status)}
	}
	var a answer
	if err = json.Unmarshal(rc.Response.Body(), &a); err != nil {
		return answer{}, &errPHP{status: fasthttp.StatusServiceUnavailable,
			msg: fmt.Sprintf("%s answered 200 without JSON {\"allow\":...}: %v", h.cfg.AuthRoute, err)}
	}
	return a, nil
}
