package main

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/pivotphp/pivotphp-runtime-roadrunner/cmd/rr/internal/rpcclient"
	"github.com/pivotphp/pivotphp-runtime-roadrunner/cmd/rr/internal/rrconfig"
	configImpl "github.com/roadrunner-server/config/v4"
	"github.com/roadrunner-server/errors"
)

// compatConfig is RoadRunner's config plugin (it keeps the name "config" and every method)
// that also reads what users copy from RoadRunner 2.x, and says what nobody reads:
//   - jobs pipelines and kv storages in 2.x's flat layout (options beside `driver:`) are read as
//     RoadRunner 2023 reads them under `config:`, with one warning per section showing that
//     layout (`rr config migrate` rewrites the file);
//   - a top-level section no plugin of this rr reads is a warning naming it: nothing a user
//     writes is ignored silently.
type compatConfig struct {
	*configImpl.Plugin
	// sections are the top-level keys some plugin of this binary reads.
	sections map[string]struct{}
	warn     io.Writer
}

// configForPlugin is the file the config plugin reads: the configuration itself, or, when it
// parses only with its ${VAR} references substituted first (rrconfig.ReadYAML), a temporary
// copy with them substituted (removed by cleanup), after a warning that says how to fix it.
func configForPlugin(path string) (use string, cleanup func(), err error) {
	noop := func() {}
	if ext := strings.ToLower(filepath.Ext(path)); ext != ".yaml" && ext != ".yml" {
		return path, noop, nil
	}
	data, note, err := rrconfig.ReadYAML(path)
	if err != nil || note == "" {
		return path, noop, nil // the config plugin reports a missing or unreadable file itself
	}
	fmt.Printf("[WARN] %s\n", note)
	f, err := os.CreateTemp("", "rr-config-*"+filepath.Ext(path))
	if err != nil {
		return "", noop, fmt.Errorf("a substituted copy of %s: %w", path, err)
	}
	defer func() { _ = f.Close() }()
	if _, err = f.Write(data); err != nil {
		_ = os.Remove(f.Name())
		return "", noop, fmt.Errorf("a substituted copy of %s: %w", path, err)
	}
	return f.Name(), func() { _ = os.Remove(f.Name()) }, nil
}

// alwaysKnown are top-level keys read outside the plugins (the config plugin, rr serve).
var alwaysKnown = []string{"version", "include", "endure"}

func newCompatConfig(cfg *configImpl.Plugin, plugins []any, warn io.Writer) *compatConfig {
	c := &compatConfig{Plugin: cfg, sections: map[string]struct{}{}, warn: warn}
	for _, k := range alwaysKnown {
		c.sections[k] = struct{}{}
	}
	for _, p := range plugins {
		if n, ok := p.(interface{ Name() string }); ok {
			c.sections[n.Name()] = struct{}{}
		}
	}
	return c
}

// Init reads the file as the config plugin does, then rewrites flat sections in memory.
func (c *compatConfig) Init() error {
	const op = errors.Op("pivot_config_init")
	if err := c.Plugin.Init(); err != nil {
		return err
	}
	var all map[string]any
	if err := c.Plugin.Unmarshal(&all); err != nil {
		return errors.E(op, err)
	}
	for _, f := range rrconfig.FindFlatSections(all) {
		driver, _ := c.Plugin.Get(f.Path + ".driver").(string)
		if err := c.Plugin.Overwrite(map[string]any{f.ConfigKey(): f.Config}); err != nil {
			return errors.E(op, errors.Errorf("%s: %v", f.Path, err))
		}
		fmt.Fprintf(c.warn, "[WARN] %s\n", f.Warning(driver))
	}
	if err := c.defaultConsume(all); err != nil {
		return errors.E(op, err)
	}
	if err := c.defaultRPC(all); err != nil {
		return errors.E(op, err)
	}
	if err := c.dropInvalidCollectors(all); err != nil {
		return errors.E(op, err)
	}
	for _, name := range c.unread(all) {
		fmt.Fprintf(c.warn, "[WARN] the %q section is not read by any plugin of this rr: remove it, or check its name (the sections this rr reads: %s)\n",
			name, strings.Join(c.known(), ", "))
	}
	return nil
}

// defaultRPC listens for RPC on RoadRunner's default address when the file starts PHP workers
// but has no rpc section: PHP reaches jobs, kv and metrics only over RPC, and without it every
// push or get would fail at run time. Said with a warning; an rpc section chooses the address.
func (c *compatConfig) defaultRPC(all map[string]any) error {
	if _, ok := all["rpc"]; ok {
		return nil
	}
	if _, ok := all["server"]; !ok {
		return nil
	}
	fmt.Fprintf(c.warn, "[WARN] no rpc section: PHP workers reach jobs, kv and metrics over RPC, so rr listens on %s "+
		"(RoadRunner's default); add rpc: {listen: tcp://HOST:PORT} to choose the address\n", rpcclient.DefaultListen)
	return c.Plugin.Overwrite(map[string]any{"rpc.listen": rpcclient.DefaultListen})
}

// defaultConsume consumes every pipeline of jobs.pipelines when jobs.consume is not set at all:
// without it the jobs plugin consumes nothing, and jobs pile up in queues nobody reads (the
// feature request's file has pipelines and a jobs pool but no consume). Said with a warning;
// `consume: []` keeps a push-only instance.
func (c *compatConfig) defaultConsume(all map[string]any) error {
	jobs, ok := all["jobs"].(map[string]any)
	if !ok {
		return nil
	}
	if _, set := jobs["consume"]; set {
		return nil
	}
	pipes, ok := jobs["pipelines"].(map[string]any)
	if !ok || len(pipes) == 0 {
		return nil
	}
	names := make([]string, 0, len(pipes))
	for name := range pipes {
		names = append(names, name)
	}
	sort.Strings(names)
	fmt.Fprintf(c.warn, "[WARN] jobs.consume is not set: consuming every pipeline of jobs.pipelines (%s); "+
		"list the ones this instance consumes in jobs.consume (consume: [] for none)\n", strings.Join(names, ", "))
	return c.Plugin.Overwrite(map[string]any{"jobs.consume": names})
}

// dropInvalidCollectors leaves out the metrics.collect entries that are not collector
// definitions (`app_metric_*: true`, copied from feature requests and older docs): the metrics
// plugin cannot decode them and then disables itself without a word, taking /metrics away.
// Each one is a warning; metrics that PHP declares at run time need no entry.
func (c *compatConfig) dropInvalidCollectors(all map[string]any) error {
	m, ok := all["metrics"].(map[string]any)
	if !ok {
		return nil
	}
	collect, ok := m["collect"].(map[string]any)
	if !ok {
		return nil
	}
	kept := make(map[string]any, len(collect))
	var dropped []string
	for name, def := range collect {
		if _, isMap := def.(map[string]any); isMap {
			kept[name] = def
			continue
		}
		dropped = append(dropped, name)
	}
	if len(dropped) == 0 {
		return nil
	}
	sort.Strings(dropped)
	for _, name := range dropped {
		fmt.Fprintf(c.warn, "[WARN] metrics.collect.%s: %v is not a collector definition (RoadRunner 2023 reads "+
			"{type: counter|gauge|histogram|summary, help, labels, buckets}); it is left out so /metrics still starts. "+
			"Metrics that PHP declares at run time (metrics.Declare) need no entry here\n", name, collect[name])
	}
	return c.Plugin.Overwrite(map[string]any{"metrics.collect": kept})
}

// unread lists the top-level sections of the file no plugin reads, sorted.
func (c *compatConfig) unread(all map[string]any) []string {
	var out []string
	for k := range all {
		if _, ok := c.sections[k]; !ok {
			out = append(out, k)
		}
	}
	sort.Strings(out)
	return out
}

func (c *compatConfig) known() []string {
	out := make([]string, 0, len(c.sections))
	for k := range c.sections {
		if k != "version" && k != "include" {
			out = append(out, k)
		}
	}
	sort.Strings(out)
	return out
}
