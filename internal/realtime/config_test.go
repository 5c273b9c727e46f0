package realtime

import (
	"strings"
	"testing"
	"time"
)

func TestConfigDefaults(t *testing.T) {
	c := &Config{}
	c.InitDefaults()
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	if c.Path != "/connection" || c.SSEPath != "" || c.AuthRoute != "/broadcast/auth" || c.Broker != "memory" ||
		c.MaxConnections != 10000 || c.MaxMessageSize != 64<<10 || c.ClientQueueSize != 1<<20 ||
		c.WriteTimeout != time.Second || c.PingInterval != 25*time.Second || c.PongTimeout != 10*time.Second ||
		c.AuthTimeout != 5*time.Second {
		t.Fatalf("defaults: %+v", c)
	}
	r := &Config{Broker: " Redis ", Redis: &RedisConfig{Addrs: []string{"127.0.0.1:6379"}}}
	r.InitDefaults()
	if err := r.Validate(); err != nil || r.Broker != "redis" || r.Redis.Prefix != "pivot_broadcast" {
		t.Fatalf("redis: %+v %v", r, err)
	}
}

func TestConfigErrorsNameTheKey(t *testing.T) {
	for _, tc := range []struct {
		name string
		cfg  Config
		want string
	}{
		{"relative path", Config{Path: "ws"}, "pivot.broadcast.path \"ws\" must start with /"},
		{"sse on the ws path", Config{Path: "/c", SSEPath: "/c"}, "pivot.broadcast.sse_path \"/c\" is pivot.broadcast.path too"},
		{"auth on a broadcast path", Config{SSEPath: "/events", AuthRoute: "/events"}, "pivot.broadcast.auth_route \"/events\" is a broadcast endpoint"},
		{"unknown broker", Config{Broker: "kafka"}, "pivot.broadcast.broker \"kafka\" is unknown: use memory"},
		{"redis without addrs", Config{Broker: "redis"}, "pivot.broadcast.redis.addrs is empty"},
		{"redis bad addr", Config{Broker: "redis", Redis: &RedisConfig{Addrs: []string{"localhost"}}}, "pivot.broadcast.redis.addrs: \"localhost\" is not a host:port"},
		{"negative max", Config{MaxConnections: -1}, "pivot.broadcast.max_connections is -1"},
		{"queue below message", Config{MaxMessageSize: 2 << 20}, "pivot.broadcast.client_queue_size (1048576) is below max_message_size"},
		{"negative duration", Config{PingInterval: -time.Second}, "pivot.broadcast.ping_interval is -1s"},
		{"negative write delay", Config{WriteDelay: -time.Millisecond}, "pivot.broadcast.write_delay is -1ms"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := tc.cfg
			c.InitDefaults()
			err := c.Validate()
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("got %v, want %q", err, tc.want)
			}
		})
	}
}

func TestOriginCheck(t *testing.T) {
	for _, tc := range []struct {
		allowed      []string
		origin, host string
		want         bool
	}{
		{nil, "http://chat.example", "chat.example", true},
		{nil, "http://evil.example", "chat.example", false},
		{nil, "not a url\x7f", "chat.example", false},
		{[]string{"https://app.example"}, "https://app.example", "api.example", true},
		{[]string{"https://app.example"}, "https://other.example", "api.example", false},
		{[]string{"*"}, "https://any.example", "api.example", true},
	} {
		h := &Hub{origins: map[string]struct{}{}}
		for _, o := range tc.allowed {
			h.anyOrig = h.anyOrig || o == "*"
			h.origins[o] = struct{}{}
		}
		if got := h.originAllowed([]byte(tc.origin), []byte(tc.host)); got != tc.want {
			t.Errorf("allowed %v, Origin %q, Host %q: %v, want %v", tc.allowed, tc.origin, tc.host, got, tc.want)
		}
	}
}
