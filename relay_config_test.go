package pivot

import (
	"os/exec"
	"strings"
	"testing"
	"time"

	configImpl "github.com/roadrunner-server/config/v4"
	"go.uber.org/zap"
)

// defaultRelayTimeout is server.relay_timeout's default (internal/pool).
const defaultRelayTimeout = 60 * time.Second

// pluginConfig is the config plugin over an in-memory .rr.yaml.
func pluginConfig(t *testing.T, yaml string) *configImpl.Plugin {
	t.Helper()
	c := &configImpl.Plugin{ReadInCfg: []byte(yaml), Type: "yaml", Version: RRVersion}
	if err := c.Init(); err != nil {
		t.Fatal(err)
	}
	return c
}

type testLogger struct{}

func (testLogger) NamedLogger(string) *zap.Logger { return zap.NewNop() }

type testServer struct{}

func (testServer) CmdFactory(map[string]string) func() *exec.Cmd {
	return func() *exec.Cmd { return nil }
}
func (testServer) UID() int { return 0 }
func (testServer) GID() int { return 0 }

func TestInitReadsServerRelay(t *testing.T) {
	const base = "server:\n  command: php worker.php\n%spivot:\n  address: 127.0.0.1:8080\n"
	p := &Plugin{}
	if err := p.Init(pluginConfig(t, strings.Replace(base, "%s", "  relay: tcp://127.0.0.1:7000\n  relay_timeout: 3s\n", 1)), testLogger{}, testServer{}); err != nil {
		t.Fatal(err)
	}
	if p.relay.Network != "tcp" || p.relay.Address != "127.0.0.1:7000" || p.relay.Timeout != 3*time.Second {
		t.Fatalf("relay setting %+v", p.relay)
	}
	p = &Plugin{}
	if err := p.Init(pluginConfig(t, strings.Replace(base, "%s", "", 1)), testLogger{}, testServer{}); err != nil {
		t.Fatal(err)
	}
	if p.relay.Network != "" || p.relay.Timeout != defaultRelayTimeout {
		t.Fatalf("without server.relay: %+v", p.relay)
	}
	p = &Plugin{}
	err := p.Init(pluginConfig(t, strings.Replace(base, "%s", "  relay: sockets\n", 1)), testLogger{}, testServer{})
	if err == nil || !strings.Contains(err.Error(), `server.relay "sockets"`) || !strings.Contains(err.Error(), "unix:///path/to.sock") {
		t.Fatalf("an unsupported server.relay must fail Init naming the key and the allowed forms: %v", err)
	}
}
