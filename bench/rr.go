package main

import (
	"fmt"
	"net"
	"net/http"
	"net/rpc"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	goridgeRpc "github.com/roadrunner-server/goridge/v3/pkg/rpc"
	"github.com/roadrunner-server/informer/v4"
)

// rrConfig is a .rr.yaml with only the plugin under test: `pivot` (ours) or `http` (stock
// RoadRunner), the same PHP command and worker count, RPC for the informer, logs at level error.
func rrConfig(section, command, options string, rpcPort, httpPort, workers int) string {
	return fmt.Sprintf(`version: "3"
rpc:
  listen: tcp://127.0.0.1:%d
server:
  command: %s
logs:
  level: error
  mode: production
%s:
  address: 127.0.0.1:%d
%s  pool:
    num_workers: %d
`, rpcPort, strconv.Quote(command), section, httpPort, options, workers)
}

// rrSpec describes one rr server to start.
type rrSpec struct {
	kind    string
	section string // pivot or http
	plugin  string // the informer's name for it
	script  string // PHP worker script
	phpArgs string // before the script, e.g. -n
	options string // more YAML lines for the plugin's section, indented by 2
	path    string // URL path wrk drives
	env     []string
	check   func(*http.Response, []byte) error // the preflight; nil: checkHello
	// top is more top-level YAML (an otel section); logLevel replaces the level error
	top, logLevel string
}

// startRR writes the config under dir and starts `rr serve`; the caller waits for readiness.
func startRR(ps *procs, cfg *config, dir string, spec rrSpec, workers int) (*server, error) {
	rpcPort, err := freePort()
	if err != nil {
		return nil, err
	}
	httpPort, err := freePort()
	if err != nil {
		return nil, err
	}
	name := fileName(spec.kind, workers)
	conf := filepath.Join(dir, name+".rr.yaml")
	command := cfg.php + " " + spec.script
	if spec.phpArgs != "" {
		command = cfg.php + " " + spec.phpArgs + " " + spec.script
	}
	yaml := rrConfig(spec.section, command, spec.options, rpcPort, httpPort, workers) + spec.top
	if spec.logLevel != "" {
		yaml = strings.Replace(yaml, "  level: error\n", "  level: "+spec.logLevel+"\n", 1)
	}
	if err := os.WriteFile(conf, []byte(yaml), 0o644); err != nil {
		return nil, err
	}
	p, err := ps.start(name, filepath.Join(dir, name+".log"), spec.env, cfg.rr, "serve", "-c", conf, "-w", dir)
	if err != nil {
		return nil, err
	}
	s := &server{
		kind:    spec.kind,
		workers: workers,
		url:     fmt.Sprintf("http://127.0.0.1:%d%s", httpPort, spec.path),
		rpc:     fmt.Sprintf("127.0.0.1:%d", rpcPort),
		plugin:  spec.plugin,
		front:   p,
		check:   spec.check,
	}
	if s.check == nil {
		s.check = checkHello
	}
	return s, nil
}

// rpcCall makes one call to rr's RPC plugin with goridge's codec, as `rr workers` does.
func rpcCall(addr, method string, args, reply any) error {
	conn, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		return err
	}
	client := rpc.NewClientWithCodec(goridgeRpc.NewClientCodec(conn))
	defer client.Close()
	return client.Call(method, args, reply)
}

// informerWorkers lists the plugin's workers (pid, execs) over RPC.
func informerWorkers(s *server) (*informer.WorkerList, error) {
	list := &informer.WorkerList{}
	if err := rpcCall(s.rpc, "informer.Workers", s.plugin, list); err != nil {
		return nil, fmt.Errorf("informer.Workers %s: %w", s.plugin, err)
	}
	return list, nil
}

// timeAddWorker times informer.AddWorker, which returns once the new PHP worker has answered
// the pool's handshake (spawn to ready), then removes a worker to restore the pool size.
func timeAddWorker(s *server) (time.Duration, error) {
	var ok bool
	start := time.Now()
	if err := rpcCall(s.rpc, "informer.AddWorker", s.plugin, &ok); err != nil {
		return 0, fmt.Errorf("informer.AddWorker %s: %w", s.plugin, err)
	}
	d := time.Since(start)
	if err := rpcCall(s.rpc, "informer.RemoveWorker", s.plugin, &ok); err != nil {
		return d, fmt.Errorf("informer.RemoveWorker %s: %w", s.plugin, err)
	}
	return d, nil
}

// rrVersion is `rr --version`'s first line.
func rrVersion(bin string) string {
	return firstLine(commandOutput(bin, "--version"))
}

func firstLine(s string) string {
	s, _, _ = strings.Cut(strings.TrimSpace(s), "\n")
	return s
}
