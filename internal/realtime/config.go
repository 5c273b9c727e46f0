package realtime

import (
	"fmt"
	"net"
	"strings"
	"time"
)

// Defaults of pivot.broadcast.
const (
	DefaultPath           = "/connection"
	DefaultAuthRoute      = "/broadcast/auth"
	DefaultMaxConnections = 10000
	DefaultMaxMessageSize = 64 << 10
	DefaultClientQueue    = 1 << 20
	DefaultWriteTimeout   = time.Second
	DefaultPingInterval   = 25 * time.Second
	DefaultPongTimeout    = 10 * time.Second
	DefaultAuthTimeout    = 5 * time.Second
	DefaultRedisPrefix    = "pivot_broadcast"

	BrokerMemory = "memory"
	BrokerRedis  = "redis"
)

// Config is `pivot.broadcast`: where clients connect, how PHP is asked, which broker carries
// publications between rr instances, and the limits that protect the server.
type Config struct {
	// Path is the WebSocket endpoint (default /connection); SSEPath the EventSource one
	// (empty: no SSE).
	Path    string `mapstructure:"path"`
	SSEPath string `mapstructure:"sse_path"`
	// AuthRoute is the PHP route pivot POSTs to on every connect and subscribe, through the
	// HTTP pool, with the client's headers and cookies (default /broadcast/auth).
	AuthRoute string `mapstructure:"auth_route"`
	// AuthTimeout bounds PHP's answer (default 5s); past it the client is refused with 503.
	AuthTimeout time.Duration `mapstructure:"auth_timeout"`
	// Broker is memory (one instance) or redis (several instances share publications).
	Broker string       `mapstructure:"broker"`
	Redis  *RedisConfig `mapstructure:"redis"`
	// MaxConnections bounds the open WebSocket and SSE connections of this instance; more get
	// 503 (default 10000).
	MaxConnections int `mapstructure:"max_connections"`
	// MaxMessageSize bounds a published message and a client's frame, in bytes (default 64 KiB).
	MaxMessageSize int `mapstructure:"max_message_size"`
	// ClientQueueSize is how many bytes may wait for one slow client before it is dropped
	// (close code 3008 "slow"); publishers never wait (default 1 MiB).
	ClientQueueSize int `mapstructure:"client_queue_size"`
	// WriteTimeout drops a client whose socket does not take a write within it (default 1s).
	WriteTimeout time.Duration `mapstructure:"write_timeout"`
	// WriteDelay lets a client's writer gather the messages of this long into one frame and
	// one write (fewer system calls for busy clients, at most this much added latency);
	// default 0: every message is written at once (what queued during a write still goes
	// out in one frame, up to 16). It pays only when one client gets several messages
	// within it: otherwise each message costs a timer and a wakeup more, and the delay
	// (at 2,000 clients × ~30 messages/s each, 2ms gathered nothing: bench/README.md).
	WriteDelay time.Duration `mapstructure:"write_delay"`
	// PingInterval and PongTimeout: the server pings every client; a WebSocket client that
	// does not answer within PongTimeout is dropped (defaults 25s, 10s).
	PingInterval time.Duration `mapstructure:"ping_interval"`
	PongTimeout  time.Duration `mapstructure:"pong_timeout"`
	// AllowedOrigins are the Origins a browser may connect from ("*" for any); empty: the
	// page's Origin must match the Host it connects to.
	AllowedOrigins []string `mapstructure:"allowed_origins"`
}

// RedisConfig is `pivot.broadcast.redis`.
type RedisConfig struct {
	Addrs  []string `mapstructure:"addrs"`
	Prefix string   `mapstructure:"prefix"`
}

// InitDefaults fills what is unset.
func (c *Config) InitDefaults() {
	if c.Path == "" {
		c.Path = DefaultPath
	}
	if c.AuthRoute == "" {
		c.AuthRoute = DefaultAuthRoute
	}
	if c.AuthTimeout == 0 {
		c.AuthTimeout = DefaultAuthTimeout
	}
	c.Broker = strings.ToLower(strings.TrimSpace(c.Broker))
	if c.Broker == "" {
		c.Broker = BrokerMemory
	}
	if c.MaxConnections == 0 {
		c.MaxConnections = DefaultMaxConnections
	}
	if c.MaxMessageSize == 0 {
		c.MaxMessageSize = DefaultMaxMessageSize
	}
	if c.ClientQueueSize == 0 {
		c.ClientQueueSize = DefaultClientQueue
	}
	if c.WriteTimeout == 0 {
		c.WriteTimeout = DefaultWriteTimeout
	}
	if c.PingInterval == 0 {
		c.PingInterval = DefaultPingInterval
	}
	if c.PongTimeout == 0 {
		c.PongTimeout = DefaultPongTimeout
	}
	if c.Redis != nil && c.Redis.Prefix == "" {
		c.Redis.Prefix = DefaultRedisPrefix
	}
}

// Validate checks the section after InitDefaults; each error names the key and the fix.
func (c *Config) Validate() error {
	for key, p := range map[string]string{"path": c.Path, "sse_path": c.SSEPath, "auth_route": c.AuthRoute} {
		if p != "" && !strings.HasPrefix(p, "/") {
			return fmt.Errorf("pivot.broadcast.%s %q must start with /, e.g. /connection", key, p)
		}
	}
	if c.SSEPath == c.Path {
		return fmt.Errorf("pivot.broadcast.sse_path %q is pivot.broadcast.path too: give SSE its own path, e.g. /events", c.SSEPath)
	}
	if c.AuthRoute == c.Path || c.AuthRoute == c.SSEPath {
		return fmt.Errorf("pivot.broadcast.auth_route %q is a broadcast endpoint: it must be a PHP route, e.g. /broadcast/auth", c.AuthRoute)
	}
	switch c.Broker {
	case BrokerMemory:
	case BrokerRedis:
		if c.Redis == nil || len(c.Redis.Addrs) == 0 {
			return fmt.Errorf("pivot.broadcast.broker is redis but pivot.broadcast.redis.addrs is empty: add e.g. redis: {addrs: [127.0.0.1:6379]}")
		}
		for _, a := range c.Redis.Addrs {
			if _, _, err := net.SplitHostPort(a); err != nil {
				return fmt.Errorf("pivot.broadcast.redis.addrs: %q is not a host:port (%v): use e.g. 127.0.0.1:6379", a, err)
			}
		}
	default:
		return fmt.Errorf("pivot.broadcast.broker %q is unknown: use memory (one instance) or redis (several)", c.Broker)
	}
	for key, v := range map[string]int{"max_connections": c.MaxConnections, "max_message_size": c.MaxMessageSize, "client_queue_size": c.ClientQueueSize} {
		if v < 0 {
			return fmt.Errorf("pivot.broadcast.%s is %d: it must be positive; remove it for the default", key, v)
		}
	}
	if c.ClientQueueSize < c.MaxMessageSize {
		return fmt.Errorf("pivot.broadcast.client_queue_size (%d) is below max_message_size (%d): one message would drop every client; raise it", c.ClientQueueSize, c.MaxMessageSize)
	}
	for key, d := range map[string]time.Duration{"auth_timeout": c.AuthTimeout, "write_timeout": c.WriteTimeout, "write_delay": c.WriteDelay, "ping_interval": c.PingInterval, "pong_timeout": c.PongTimeout} {
		if d < 0 {
			return fmt.Errorf("pivot.broadcast.%s is %s: it must be positive; remove it for the default", key, d)
		}
	}
	return nil
}
