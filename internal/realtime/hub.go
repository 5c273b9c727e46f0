package realtime

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"sync/atomic"
	"time"

	"github.com/centrifugal/centrifuge"
	"github.com/roadrunner-server/errors"
	"github.com/valyala/fasthttp"
	"go.uber.org/zap"
)

// PHP runs one request through pivot's pipeline to a PHP worker and leaves the answer in
// ctx.Response: the root wires the HTTP front's handler here, so the auth route is an ordinary
// route of the application (its middleware, its pool, its exec_ttl).
type PHP func(ctx *fasthttp.RequestCtx)

// Stats are the hub's counters since it started (rr_pivot_broadcast_* in metrics.go).
type Stats struct {
	// Clients is the connections open now (WebSocket and SSE).
	Clients int64
	// MessagesIn counts publications received from PHP (one per channel); MessagesOut the
	// deliveries to this instance's subscribers.
	MessagesIn, MessagesOut uint64
	// Drops counts clients dropped for being slow (queue full, write timeout, no pong);
	// Refused the connections refused for max_connections or a drain.
	Drops, Refused uint64
}

// Hub holds the clients of pivot.broadcast (github.com/centrifugal/centrifuge's Node: its
// hub, per-client write queues, memory or Redis broker), asks PHP who may connect and
// subscribe, and publishes what PHP sends over RPC.
type Hub struct {
	cfg  *Config
	node *centrifuge.Node
	php  PHP
	log  *zap.Logger

	ws       *centrifuge.WebsocketHandler
	origins  map[string]struct{}
	anyOrig  bool
	stopping atomic.Bool

	clients                          atomic.Int64
	in, out, drops, refused, pending atomic.Uint64
}

// New builds the hub; Start runs it.
func New(cfg *Config, php PHP, log *zap.Logger) (*Hub, error) {
	const op = errors.Op("pivot_broadcast_new")
	h := &Hub{cfg: cfg, php: php, log: log, origins: map[string]struct{}{}}
	for _, o := range cfg.AllowedOrigins {
		if o == "*" {
			h.anyOrig = true
		}
		h.origins[o] = struct{}{}
	}
	name, _ := os.Hostname()
	node, err := centrifuge.New(centrifuge.Config{
		Name:               fmt.Sprintf("%s-%d", name, os.Getpid()),
		LogLevel:           centrifuge.LogLevelWarn,
		LogHandler:         h.logEntry,
		ClientQueueMaxSize: cfg.ClientQueueSize,
	})
	if err != nil {
		return nil, errors.E(op, err)
	}
	h.node = node
	node.OnConnecting(h.connecting)
	node.OnConnect(h.connected)
	h.ws = centrifuge.NewWebsocketHandler(node, centrifuge.WebsocketConfig{
		CheckOrigin:      func(*http.Request) bool { return true }, // checked before the upgrade (ws.go)
		MessageSizeLimit: cfg.MaxMessageSize,
		WriteTimeout:     cfg.WriteTimeout,
		PingPongConfig:   centrifuge.PingPongConfig{PingInterval: cfg.PingInterval, PongTimeout: cfg.PongTimeout},
	})
	return h, nil
}

func (h *Hub) setBroker() error {
	if h.cfg.Broker == BrokerRedis {
		var shards []*centrifuge.RedisShard
		for _, addr := range h.cfg.Redis.Addrs {
			s, err := centrifuge.NewRedisShard(h.node, centrifuge.RedisShardConfig{Address: addr})
			if err != nil {
				return fmt.Errorf("pivot.broadcast.redis.addrs %s: %w", addr, err)
			}
			shards = append(shards, s)
		}
		b, err := centrifuge.NewRedisBroker(h.node, centrifuge.RedisBrokerConfig{Prefix: h.cfg.Redis.Prefix, Shards: shards})
		if err != nil {
			return err
		}
		pm, err := centrifuge.NewRedisPresenceManager(h.node, centrifuge.RedisPresenceManagerConfig{Prefix: h.cfg.Redis.Prefix, Shards: shards})
		if err != nil {
			return err
		}
		h.node.SetBroker(&countingBroker{Broker: b, h: h})
		h.node.SetPresenceManager(pm)
		return nil
	}
	b, err := centrifuge.NewMemoryBroker(h.node, centrifuge.MemoryBrokerConfig{})
	if err != nil {
		return err
	}
	h.node.SetBroker(&countingBroker{Broker: b, h: h})
	return nil
}

// Start connects the broker (Redis is dialled here, not in Init: an unreachable Redis fails
// rr's start with the address) and runs the node.
func (h *Hub) Start() error {
	const op = errors.Op("pivot_broadcast_start")
	if err := h.setBroker(); err != nil {
		return errors.E(op, err)
	}
	if err := h.node.Run(); err != nil {
		return errors.E(op, err)
	}
	return nil
}

// Shutdown refuses new clients and disconnects every client with code 3001 ("shutdown",
// reconnect: another instance, or this one restarted, takes it), then waits for their
// connections to close, bounded by ctx.
func (h *Hub) Shutdown(ctx context.Context) error {
	h.stopping.Store(true)
	err := h.node.Shutdown(ctx)
	for h.clients.Load() > 0 && ctx.Err() == nil {
		select {
		case <-ctx.Done():
		case <-time.After(10 * time.Millisecond):
		}
	}
	if err != nil && ctx.Err() == nil {
		return err
	}
	return ctx.Err()
}

// Stats reads the counters.
func (h *Hub) Stats() Stats {
	return Stats{Clients: h.clients.Load(), MessagesIn: h.in.Load(), MessagesOut: h.out.Load(),
		Drops: h.drops.Load(), Refused: h.refused.Load()}
}

// PublishRequest is pivot.BroadcastPublish's argument.
type PublishRequest struct {
	Channels []string `json:"channels"`
	Message  string   `json:"message"`
}

// PresenceEntry is one connection subscribed to a channel (pivot.BroadcastPresence).
type PresenceEntry struct {
	Client string `json:"client"`
	User   string `json:"user"`
}

// Publish sends message to every subscriber of each channel, on every instance sharing the
// broker. It never waits for a client: each has its own queue (a full queue drops it).
// Clients receive the message as a JSON string (`pub.data`).
func (h *Hub) Publish(req PublishRequest) error {
	const op = errors.Op("pivot_broadcast_publish")
	if len(req.Channels) == 0 {
		return errors.E(op, errors.Str("no channel: pass at least one channel name"))
	}
	if len(req.Message) > h.cfg.MaxMessageSize {
		return errors.E(op, errors.Errorf("the message is %d bytes, over pivot.broadcast.max_message_size (%d): send less, or raise it", len(req.Message), h.cfg.MaxMessageSize))
	}
	data, err := json.Marshal(req.Message)
	if err != nil {
		return errors.E(op, err)
	}
	for _, ch := range req.Channels {
		if ch == "" {
			return errors.E(op, errors.Str("an empty channel name"))
		}
		if _, err = h.node.Publish(ch, data); err != nil {
			return errors.E(op, errors.Errorf("channel %s: %v", ch, err))
		}
		h.in.Add(1)
	}
	return nil
}

// Presence lists the connections subscribed to channel (on every instance with Redis).
func (h *Hub) Presence(channel string) ([]PresenceEntry, error) {
	res, err := h.node.Presence(channel)
	if err != nil {
		return nil, errors.E(errors.Op("pivot_broadcast_presence"), err)
	}
	out := make([]PresenceEntry, 0, len(res.Presence))
	for _, ci := range res.Presence {
		out = append(out, PresenceEntry{Client: ci.ClientID, User: ci.UserID})
	}
	return out, nil
}

// Disconnect closes every connection of user (on every instance) with code 3503: the client
// must not reconnect on its own.
func (h *Hub) Disconnect(user string) error {
	if user == "" {
		return errors.E(errors.Op("pivot_broadcast_disconnect"), errors.Str("an empty user id: anonymous clients cannot be disconnected by user"))
	}
	return h.node.Disconnect(user, centrifuge.WithCustomDisconnect(centrifuge.DisconnectForceNoReconnect))
}

// connecting gives a connection what PHP granted before the upgrade (ws.go, sse.go).
func (h *Hub) connecting(ctx context.Context, _ centrifuge.ConnectEvent) (centrifuge.ConnectReply, error) {
	g, _ := ctx.Value(grantKey{}).(*grant)
	if g == nil {
		return centrifuge.ConnectReply{}, centrifuge.DisconnectPermissionDenied
	}
	subs := make(map[string]centrifuge.SubscribeOptions, len(g.Channels))
	for _, ch := range g.Channels {
		subs[ch] = centrifuge.SubscribeOptions{EmitPresence: true}
	}
	reply := centrifuge.ConnectReply{Credentials: &centrifuge.Credentials{UserID: g.User, Info: g.Info}, Subscriptions: subs}
	if h.cfg.WriteDelay > 0 {
		reply.WriteDelay, reply.MaxMessagesInFrame = h.cfg.WriteDelay, -1 // all that waited, in one frame
	}
	return reply, nil
}

// connected sets a client's handlers: a subscription is asked of PHP; publishing from a
// client is not available (PHP publishes).
func (h *Hub) connected(c *centrifuge.Client) {
	c.OnSubscribe(func(e centrifuge.SubscribeEvent, cb centrifuge.SubscribeCallback) {
		g, _ := c.Context().Value(grantKey{}).(*grant)
		if g == nil {
			cb(centrifuge.SubscribeReply{}, centrifuge.ErrorPermissionDenied)
			return
		}
		go func() {
			a, err := h.ask(g.req, "subscribe", e.Channel, c.UserID())
			switch {
			case err != nil:
				h.log.Warn("broadcast: PHP did not answer a subscription", zap.String("channel", e.Channel), zap.Error(err))
				cb(centrifuge.SubscribeReply{}, centrifuge.ErrorInternal)
			case !a.Allow:
				cb(centrifuge.SubscribeReply{}, centrifuge.ErrorPermissionDenied)
			default:
				cb(centrifuge.SubscribeReply{Options: centrifuge.SubscribeOptions{EmitPresence: true}}, nil)
			}
		}()
	})
	c.OnDisconnect(func(e centrifuge.DisconnectEvent) {
		switch e.Disconnect.Code {
		case centrifuge.DisconnectSlow.Code, centrifuge.DisconnectWriteError.Code, centrifuge.DisconnectNoPong.Code:
			h.drops.Add(1)
			h.log.Info("broadcast: client dropped", zap.String("client", c.ID()), zap.String("user", c.UserID()),
				zap.Uint32("code", e.Disconnect.Code), zap.String("reason", e.Disconnect.Reason))
		}
	})
}

func (h *Hub) logEntry(e centrifuge.LogEntry) {
	fields := make([]zap.Field, 0, len(e.Fields))
	for k, v := range e.Fields {
		fields = append(fields, zap.Any(k, v))
	}
	switch e.Level {
	case centrifuge.LogLevelError:
		h.log.Error("broadcast: "+e.Message, fields...)
	default:
		h.log.Warn("broadcast: "+e.Message, fields...)
	}
}

// countingBroker counts deliveries to this instance's subscribers (messages out).
type countingBroker struct {
	centrifuge.Broker
	h *Hub
}

func (b *countingBroker) Run(eh centrifuge.BrokerEventHandler) error {
	return b.Broker.Run(countingHandler{BrokerEventHandler: eh, h: b.h})
}

// Close closes the broker underneath (Redis connections) on the node's shutdown.
func (b *countingBroker) Close(ctx context.Context) error {
	if c, ok := b.Broker.(centrifuge.Closer); ok {
		return c.Close(ctx)
	}
	return nil
}

type countingHandler struct {
	centrifuge.BrokerEventHandler
	h *Hub
}

func (c countingHandler) HandlePublication(ch string, pub *centrifuge.Publication, sp centrifuge.StreamPosition) error {
	c.h.out.Add(uint64(c.h.node.Hub().NumSubscribers(ch)))
	return c.BrokerEventHandler.HandlePublication(ch, pub, sp)
}
