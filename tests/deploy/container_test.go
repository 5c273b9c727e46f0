package deploy

import (
	"encoding/json"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/pivotphp/pivotphp-runtime-roadrunner/internal/testsupport"
	"gopkg.in/yaml.v3"
)

// No container engine and no hadolint (Debian does not package it) here: the Dockerfile is
// checked against the rules below, hadolint's numbers where one applies, and
// scripts/container-smoke.sh replays its runtime stage on the host (TestContainerSmoke).

// instruction is one Dockerfile instruction, continuation lines joined, comments dropped.
type instruction struct {
	op, args string
	stage    int // 0-based index of its FROM
}

func dockerfile(t *testing.T) (ins []instruction, stages int) {
	t.Helper()
	b, err := os.ReadFile(testsupport.RepoPath(t, "Dockerfile"))
	if err != nil {
		t.Fatal(err)
	}
	var cur strings.Builder
	stage := -1
	for _, line := range strings.Split(string(b), "\n") {
		l := strings.TrimSpace(line)
		if l == "" || strings.HasPrefix(l, "#") {
			continue
		}
		if strings.HasSuffix(l, `\`) {
			cur.WriteString(strings.TrimSuffix(l, `\`) + " ")
			continue
		}
		cur.WriteString(l)
		op, args, _ := strings.Cut(cur.String(), " ")
		cur.Reset()
		op = strings.ToUpper(op)
		if op == "FROM" {
			stage++
		}
		ins = append(ins, instruction{op: op, args: strings.TrimSpace(args), stage: stage})
	}
	return ins, stage + 1
}

// dockerConfig is deploy/docker/rr.yaml, the configuration the image serves.
func dockerConfig(t *testing.T) (raw string, cfg struct {
	Status struct{ Address string } `yaml:"status"`
	Pivot  struct {
		Address         string `yaml:"address"`
		ShutdownDelay   string `yaml:"shutdown_delay"`
		ShutdownTimeout string `yaml:"shutdown_timeout"`
	} `yaml:"pivot"`
	KV map[string]struct {
		Driver string `yaml:"driver"`
		Config struct {
			Addrs []string `yaml:"addrs"`
		} `yaml:"config"`
	} `yaml:"kv"`
}) {
	t.Helper()
	b, err := os.ReadFile(testsupport.RepoPath(t, "deploy/docker/rr.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if err = yaml.Unmarshal(b, &cfg); err != nil {
		t.Fatal(err)
	}
	return string(b), cfg
}

var envDefault = regexp.MustCompile(`^\$\{[A-Z_]+:-([^}]*)\}$`)

func defaulted(t *testing.T, v string) string {
	t.Helper()
	m := envDefault.FindStringSubmatch(v)
	if m == nil {
		t.Fatalf("%q: want ${VAR:-default}, so the smoke test and compose can move it", v)
	}
	return m[1]
}

// The rules, each with why. A rule that finds nothing to check fails too (an emptied Dockerfile
// must not pass).
func TestDockerfileRules(t *testing.T) {
	ins, stages := dockerfile(t)
	if stages < 2 {
		t.Fatalf("%d stage(s): want a multi-stage build (Go build stage for rr, Debian runtime)", stages)
	}
	final := stages - 1
	finals := map[string][]string{}
	var aptRuns int
	for _, in := range ins {
		if in.stage == final {
			finals[in.op] = append(finals[in.op], in.args)
		}
		switch in.op {
		case "FROM": // DL3006/DL3007: a pinned tag; each stage named for COPY --from
			image, _, _ := strings.Cut(in.args, " ")
			if !strings.Contains(image, ":") || strings.HasSuffix(image, ":latest") {
				t.Errorf("FROM %s: pin a tag (DL3006/DL3007)", in.args)
			}
			if !regexp.MustCompile(`(?i)\sAS\s+\w`).MatchString(in.args) {
				t.Errorf("FROM %s: name the stage (AS name)", in.args)
			}
		case "ADD": // DL3020
			t.Errorf("ADD %s: use COPY for files (DL3020)", in.args)
		case "WORKDIR": // DL3000
			if !strings.HasPrefix(in.args, "/") {
				t.Errorf("WORKDIR %s: use an absolute path (DL3000)", in.args)
			}
		case "RUN":
			if regexp.MustCompile(`(^|&&|;)\s*cd\s`).MatchString(in.args) {
				t.Errorf("RUN %s: use WORKDIR instead of cd (DL3003)", in.args)
			}
			if strings.Contains(in.args, "sudo ") {
				t.Errorf("RUN %s: no sudo (DL3004)", in.args)
			}
			if strings.Contains(in.args, "apt-get upgrade") || strings.Contains(in.args, "apt-get dist-upgrade") {
				t.Errorf("RUN %s: no upgrade (DL3005): pin the base image instead", in.args)
			}
			if regexp.MustCompile(`[^|]\|[^|]`).MatchString(in.args) && !strings.Contains(in.args, "pipefail") {
				t.Errorf("RUN %s: a pipe without set -o pipefail hides failures (DL4006)", in.args)
			}
			if strings.Contains(in.args, "apt-get install") {
				aptRuns++
				for _, want := range []string{"apt-get update", "-y", "--no-install-recommends", "rm -rf /var/lib/apt/lists/*"} {
					if !strings.Contains(in.args, want) {
						t.Errorf("RUN %s: apt-get install without %q (DL3009/DL3015: one layer, no cache, no extras)", in.args, want)
					}
				}
			}
		}
	}
	if aptRuns == 0 {
		t.Error("no apt-get install: the runtime stage installs Debian's php-cli")
	}

	// the runtime stage
	runs := strings.Join(finals["RUN"], " && ")
	for _, pkg := range []string{"php8.2-cli", "php8.2-opcache"} {
		if !strings.Contains(runs, pkg) {
			t.Errorf("the runtime stage does not install %s", pkg)
		}
	}
	users := finals["USER"]
	if len(users) == 0 || users[len(users)-1] == "root" || strings.HasPrefix(users[len(users)-1], "0") {
		t.Errorf("USER %v: the runtime stage must end as a non-root user (DL3002)", users)
	} else if !strings.Contains(runs, "useradd") || !strings.Contains(runs, " "+users[len(users)-1]) {
		t.Errorf("USER %s is not created by a useradd in the runtime stage", users[len(users)-1])
	}
	if got := finals["STOPSIGNAL"]; len(got) != 1 || got[0] != "SIGTERM" {
		t.Errorf("STOPSIGNAL %v: want SIGTERM (rr drains on it, pivot.shutdown_delay first)", got)
	}
	var cmd []string
	if got := finals["CMD"]; len(got) != 1 || json.Unmarshal([]byte(got[0]), &cmd) != nil {
		t.Errorf("CMD %v: want one, in JSON form (DL3025: signals reach rr, not a shell)", got)
	} else if len(cmd) < 2 || cmd[0] != "rr" || cmd[1] != "serve" {
		t.Errorf("CMD %v: want rr serve", cmd)
	}
	copies := strings.Join(finals["COPY"], "\n")
	if !regexp.MustCompile(`(?m)^--from=\w+ \S*rr /usr/local/bin/rr$`).MatchString(copies) {
		t.Errorf("the runtime stage does not copy rr from the build stage:\n%s", copies)
	}
	var goBuild bool
	for _, in := range ins {
		goBuild = goBuild || in.op == "RUN" && in.stage != final && strings.Contains(in.args, "go build") && strings.Contains(in.args, "./cmd/rr")
	}
	if !goBuild {
		t.Error("no build stage runs go build ./cmd/rr")
	}

	// the config the image serves, and its health check
	_, cfg := dockerConfig(t)
	if !regexp.MustCompile(`(?m)^deploy/docker/rr\.yaml (\S+)$`).MatchString(copies) {
		t.Fatalf("deploy/docker/rr.yaml is not copied into the runtime stage:\n%s", copies)
	}
	cfgPath := regexp.MustCompile(`(?m)^deploy/docker/rr\.yaml (\S+)$`).FindStringSubmatch(copies)[1]
	if i := indexOf(cmd, "-c"); i < 0 || i+1 >= len(cmd) || cmd[i+1] != cfgPath {
		t.Errorf("CMD %v does not serve %s (the copied deploy/docker/rr.yaml)", cmd, cfgPath)
	}
	status := defaulted(t, cfg.Status.Address)
	_, statusPort, _ := strings.Cut(status, ":")
	hc := strings.Join(finals["HEALTHCHECK"], " ")
	if !strings.Contains(hc, "CMD [") || !strings.Contains(hc, ":"+statusPort+"/ready?plugin=pivot") {
		t.Errorf("HEALTHCHECK %q: want an exec-form CMD on the status plugin's /ready?plugin=pivot (port %s)", hc, statusPort)
	}
	pivotAddr := defaulted(t, cfg.Pivot.Address)
	if !strings.HasPrefix(pivotAddr, "0.0.0.0:") || !strings.HasPrefix(status, "0.0.0.0:") {
		t.Errorf("pivot %s / status %s: listen on 0.0.0.0 in a container", pivotAddr, status)
	}
	_, pivotPort, _ := strings.Cut(pivotAddr, ":")
	if expose := strings.Join(finals["EXPOSE"], " "); !strings.Contains(" "+expose+" ", " "+pivotPort+" ") {
		t.Errorf("EXPOSE %q lacks pivot's port %s", expose, pivotPort)
	}
	if d, err := time.ParseDuration(cfg.Pivot.ShutdownDelay); err != nil || d <= 0 {
		t.Errorf("pivot.shutdown_delay %q: a SIGTERM should first leave the load balancer", cfg.Pivot.ShutdownDelay)
	}
}

func indexOf(list []string, s string) int {
	for i, v := range list {
		if v == s {
			return i
		}
	}
	return -1
}

// docker-compose.yml: pivot and Redis, the grace period covering the drain, Redis reachable
// under the address the config defaults to.
func TestComposeAgreesWithTheImage(t *testing.T) {
	b, err := os.ReadFile(testsupport.RepoPath(t, "docker-compose.yml"))
	if err != nil {
		t.Fatal(err)
	}
	var compose struct {
		Services map[string]struct {
			Build           any                                   `yaml:"build"`
			Image           string                                `yaml:"image"`
			Environment     map[string]string                     `yaml:"environment"`
			StopGracePeriod string                                `yaml:"stop_grace_period"`
			DependsOn       map[string]struct{ Condition string } `yaml:"depends_on"`
			Healthcheck     *struct{ Test []string }              `yaml:"healthcheck"`
		} `yaml:"services"`
	}
	if err = yaml.Unmarshal(b, &compose); err != nil {
		t.Fatal(err)
	}
	pv, ok := compose.Services["pivot"]
	if !ok || pv.Build == nil {
		t.Fatalf("no pivot service built from the Dockerfile: %+v", compose.Services)
	}
	redis, ok := compose.Services["redis"]
	if !ok || redis.Healthcheck == nil || !strings.Contains(redis.Image, ":") || strings.HasSuffix(redis.Image, ":latest") {
		t.Fatalf("redis: want a pinned image with a healthcheck: %+v", redis)
	}
	if pv.DependsOn["redis"].Condition != "service_healthy" {
		t.Errorf("pivot should wait for a healthy redis: %+v", pv.DependsOn)
	}
	_, cfg := dockerConfig(t)
	if got, want := pv.Environment["REDIS_ADDR"], "redis:6379"; got != want {
		t.Errorf("REDIS_ADDR %q, want %q (the redis service)", got, want)
	}
	if addrs := cfg.KV["cache"].Config.Addrs; cfg.KV["cache"].Driver != "redis" || len(addrs) != 1 || defaulted(t, addrs[0]) != "redis:6379" {
		t.Errorf("kv.cache: want redis at ${REDIS_ADDR:-redis:6379}: %+v", cfg.KV["cache"])
	}
	grace, err1 := time.ParseDuration(pv.StopGracePeriod)
	delay, err2 := time.ParseDuration(cfg.Pivot.ShutdownDelay)
	timeout, err3 := time.ParseDuration(cfg.Pivot.ShutdownTimeout)
	if err1 != nil || err2 != nil || err3 != nil {
		t.Fatalf("durations: %v %v %v", err1, err2, err3)
	}
	if grace <= delay+timeout {
		t.Errorf("stop_grace_period %s must exceed pivot.shutdown_delay %s + pivot.shutdown_timeout %s, or the drain is cut by SIGKILL", grace, delay, timeout)
	}
}

// The runtime stage replayed on this host: its packages, its user, its files and its command;
// the HEALTHCHECK passes, the app answers (KV on a real Redis), SIGTERM drains and exits 0.
func TestContainerSmoke(t *testing.T) {
	testsupport.RequirePHP(t)
	testsupport.RequireBinary(t, "redis-server", "redis-server")
	testsupport.RequireBinary(t, "curl", "curl")
	if os.Geteuid() != 0 {
		t.Skip("SKIPPED, not passed: scripts/container-smoke.sh needs root (it creates and switches to the image's user)")
	}
	redis := testsupport.StartRedis(t)
	cmd := exec.Command(testsupport.RepoPath(t, "scripts/container-smoke.sh"))
	cmd.Env = append(testsupport.Env(), "RR_BINARY="+testsupport.RRBinary(t), "REDIS_ADDR="+redis.Addr)
	out, err := cmd.CombinedOutput()
	t.Logf("%s", out)
	if err != nil {
		t.Fatalf("container smoke: %v", err)
	}
	for _, want := range []string{"HEALTHCHECK passed", "Redis-cached", "drained, exit 0", "container-smoke: OK"} {
		if !strings.Contains(string(out), want) {
			t.Errorf("the smoke output lacks %q", want)
		}
	}
}
