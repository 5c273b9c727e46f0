package pivot

import (
	"strings"
	"testing"
	"time"
)

// pivot.broadcast decodes as written and is wired; a typo or a bad value names its key.
func TestInitDecodesBroadcast(t *testing.T) {
	yaml := "server:\n  command: php worker.php\npivot:\n  address: 127.0.0.1:0\n" +
		"  broadcast:\n    path: /ws\n    sse_path: /events\n    broker: redis\n    redis: { addrs: [\"127.0.0.1:6379\"] }\n" +
		"    max_connections: 5000\n    ping_interval: 10s\n    allowed_origins: [\"https://app.example\"]\n"
	p := &Plugin{}
	if err := p.Init(pluginConfig(t, yaml), testLogger{}, testServer{}); err != nil {
		t.Fatal(err)
	}
	b := p.cfg.Broadcast
	if b.Path != "/ws" || b.SSEPath != "/events" || b.Broker != "redis" || b.Redis.Addrs[0] != "127.0.0.1:6379" ||
		b.MaxConnections != 5000 || b.PingInterval != 10*time.Second || b.AllowedOrigins[0] != "https://app.example" ||
		b.AuthRoute != "/broadcast/auth" {
		t.Fatalf("broadcast %+v", b)
	}
	if p.broadcast == nil {
		t.Fatal("pivot.broadcast is not wired")
	}

	for yaml, want := range map[string]string{
		"  broadcast:\n    pth: /ws\n":          "pivot.broadcast.pth: unknown key, did you mean path?",
		"  broadcast:\n    broker: nats\n":      `pivot.broadcast.broker "nats" is unknown`,
		"  broadcast:\n    redis: {adrs: []}\n": "pivot.broadcast.redis.adrs: unknown key, did you mean addrs?",
	} {
		p = &Plugin{}
		err := p.Init(pluginConfig(t, "server:\n  command: php worker.php\npivot:\n  address: 127.0.0.1:0\n"+yaml), testLogger{}, testServer{})
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%q: got %v, want %q", yaml, err, want)
		}
	}
}
