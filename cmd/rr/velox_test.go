package main

import (
	"fmt"
	"os"
	slashpath "path"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"testing"

	"github.com/pelletier/go-toml/v2"
	pivot "github.com/pivotphp/pivotphp-runtime-roadrunner"
	"github.com/pivotphp/pivotphp-runtime-roadrunner/internal/testsupport"
	"golang.org/x/mod/modfile"
	"golang.org/x/mod/semver"
)

// velox.toml (official RoadRunner main built by velox) and plugins() (our
// ./cmd/rr) must contain the same plugins at the same versions.

type veloxConfig struct {
	Velox struct {
		BuildArgs []string `toml:"build_args"`
	} `toml:"velox"`
	Roadrunner struct {
		Ref string `toml:"ref"`
	} `toml:"roadrunner"`
	Github struct {
		Token struct {
			Token string `toml:"token"`
		} `toml:"token"`
		Plugins map[string]veloxPlugin `toml:"plugins"`
	} `toml:"github"`
	Gitlab *struct {
		Token struct {
			Token string `toml:"token"`
		} `toml:"token"`
		Endpoint struct {
			Endpoint string `toml:"endpoint"`
		} `toml:"endpoint"`
		Plugins map[string]veloxPlugin `toml:"plugins"`
	} `toml:"gitlab"`
	Log struct {
		Level string `toml:"level"`
		Mode  string `toml:"mode"`
	} `toml:"log"`
}

type veloxPlugin struct {
	Ref        string `toml:"ref"`
	Owner      string `toml:"owner"`
	Repository string `toml:"repository"`
	Folder     string `toml:"folder"`
	Replace    string `toml:"replace"`
}

// modulePath is the Go module path velox will find in the plugin
// repository's go.mod, by Go's conventions: github.com/owner/repo[/folder]
// plus /vN for major versions >= 2 of the ref.
func (p veloxPlugin) modulePath() string {
	path := "github.com/" + p.Owner + "/" + p.Repository
	if f := strings.Trim(p.Folder, "/"); f != "" {
		path += "/" + f
	}
	if major := semver.Major(p.Ref); major != "" && major != "v0" && major != "v1" {
		path += "/" + major
	}

	return path
}

// Plugins that are part of the binary but must not be listed in velox.toml:
// velox's template adds informer and resetter, RoadRunner's serve adds config.
var notInVelox = map[string]bool{
	"github.com/roadrunner-server/config/v4":   true,
	"github.com/roadrunner-server/informer/v4": true,
	"github.com/roadrunner-server/resetter/v4": true,
}

type goMod struct {
	main     string
	requires map[string]string
	// replaces: module path => local directory (relative to the repository root), for the
	// modules of this repository (plugins/<name>) that ./cmd/rr builds from the checkout
	replaces map[string]string
}

// moduleOf maps a package path to the module providing it (the longest
// matching module path among the main module and go.mod's requirements).
func (m goMod) moduleOf(pkg string) string {
	best := ""
	candidates := []string{m.main}
	for path := range m.requires {
		candidates = append(candidates, path)
	}
	for _, mod := range candidates {
		if (pkg == mod || strings.HasPrefix(pkg, mod+"/")) && len(mod) > len(best) {
			best = mod
		}
	}

	return best
}

// pluginDrift lists every difference between the velox plugin set and the
// binary's plugin modules (module paths, from plugins()).
func pluginDrift(velox map[string]veloxPlugin, binary []string, mod goMod) []string {
	var problems []string

	inBinary := map[string]bool{}
	for _, m := range binary {
		inBinary[m] = true
	}

	pivotRef := ""
	for _, p := range velox {
		if p.modulePath() == mod.main {
			pivotRef = p.Ref
		}
	}

	inVelox := map[string]string{}
	for name, p := range velox {
		path := p.modulePath()
		if prev, dup := inVelox[path]; dup {
			problems = append(problems, "velox.toml: "+name+" and "+prev+" are the same module "+path)
		}
		inVelox[path] = name

		switch {
		case p.Replace != "":
			problems = append(problems, "velox.toml: "+name+" has a replace (local path) - not reproducible")
		case notInVelox[path]:
			problems = append(problems, "velox.toml: "+name+" ("+path+") must not be listed: velox/RoadRunner add it themselves")
		case !inBinary[path]:
			problems = append(problems, "velox.toml: "+name+" ("+path+") is not in cmd/rr plugins()")
		case path == mod.main:
			if !semver.IsValid(p.Ref) {
				problems = append(problems, "velox.toml: "+name+" ref "+p.Ref+" is not a semver tag")
			}
		case mod.replaces[path] != "":
			// one of our plugin modules (plugins/<name>): velox fetches it from this
			// repository at the ref, ./cmd/rr builds it from the replaced directory
			switch {
			case !semver.IsValid(p.Ref):
				problems = append(problems, "velox.toml: "+name+" ref "+p.Ref+" is not a semver tag")
			case semver.IsValid(pivotRef) && p.Ref != pivotRef:
				problems = append(problems, "velox.toml: "+name+" ref "+p.Ref+" differs from pivot's "+pivotRef+" (same repository, same tag)")
			}
			if dir := slashpath.Clean(mod.replaces[path]); dir != slashpath.Clean(p.Folder) {
				problems = append(problems, "velox.toml: "+name+" folder "+p.Folder+" differs from go.mod's replace of "+path+" ("+mod.replaces[path]+")")
			}
		case mod.requires[path] != p.Ref:
			problems = append(problems, "velox.toml: "+name+" ref "+p.Ref+" differs from go.mod "+path+" "+mod.requires[path])
		}
	}

	for _, m := range binary {
		if m == "" {
			problems = append(problems, "cmd/rr plugins(): a plugin type is not provided by any module of go.mod")

			continue
		}
		if !notInVelox[m] && inVelox[m] == "" {
			problems = append(problems, "cmd/rr plugins(): "+m+" is not in velox.toml")
		}
	}

	sort.Strings(problems)

	return problems
}

func loadGoMod(t *testing.T, root string) goMod {
	t.Helper()

	data, err := os.ReadFile(filepath.Join(root, "go.mod"))
	if err != nil {
		t.Fatal(err)
	}
	f, err := modfile.Parse("go.mod", data, nil)
	if err != nil {
		t.Fatal(err)
	}

	m := goMod{main: f.Module.Mod.Path, requires: map[string]string{}, replaces: map[string]string{}}
	for _, r := range f.Require {
		m.requires[r.Mod.Path] = r.Mod.Version
	}
	for _, r := range f.Replace {
		if r.New.Version == "" && modfile.IsDirectoryPath(r.New.Path) {
			m.replaces[r.Old.Path] = r.New.Path
		}
	}

	return m
}

func loadVelox(t *testing.T, root string) veloxConfig {
	t.Helper()

	data, err := os.ReadFile(filepath.Join(root, "velox.toml"))
	if err != nil {
		t.Fatal(err)
	}

	var cfg veloxConfig
	if err = toml.NewDecoder(strings.NewReader(string(data))).DisallowUnknownFields().Decode(&cfg); err != nil {
		t.Fatalf("velox.toml: %v", err)
	}

	return cfg
}

// binaryPluginModules returns the module of every plugin type in plugins(),
// failing on duplicates or types velox could not generate (&pkg.Plugin{}).
func binaryPluginModules(t *testing.T, mod goMod) []string {
	t.Helper()

	seen := map[string]bool{}
	names := map[string]string{}
	var mods []string
	for _, p := range plugins() {
		// endure and the plugins that collect others (kv, jobs, rpc, informer ...) key
		// plugins by Name(): ours replace RoadRunner's memory and rpc, never sit beside them
		if n, ok := p.(interface{ Name() string }); ok {
			if prev, dup := names[n.Name()]; dup {
				t.Errorf("plugins(): %T and %s are both named %q", p, prev, n.Name())
			}
			names[n.Name()] = fmt.Sprintf("%T", p)
		}
		typ := reflect.TypeOf(p)
		if typ.Kind() != reflect.Pointer || typ.Elem().Kind() != reflect.Struct {
			t.Errorf("plugins(): %T is not a pointer to a struct", p)

			continue
		}
		typ = typ.Elem()
		if typ.Name() != "Plugin" {
			t.Errorf("plugins(): %s: velox only supports types named Plugin", typ)
		}
		if seen[typ.PkgPath()] {
			t.Errorf("plugins(): %s listed twice", typ.PkgPath())
		}
		seen[typ.PkgPath()] = true
		mods = append(mods, mod.moduleOf(typ.PkgPath()))
	}

	return mods
}

func TestVeloxMatchesBinaryPlugins(t *testing.T) {
	root := testsupport.RepoRoot(t)
	mod := loadGoMod(t, root)
	cfg := loadVelox(t, root)

	if cfg.Gitlab != nil && len(cfg.Gitlab.Plugins) > 0 {
		t.Errorf("velox.toml: gitlab plugins are not checked by this test; keep every plugin under [github.plugins]")
	}
	if len(cfg.Github.Plugins) == 0 {
		t.Fatal("velox.toml: no [github.plugins]")
	}

	if want := "v" + pivot.RRVersion; cfg.Roadrunner.Ref != want {
		t.Errorf("velox.toml: [roadrunner] ref = %q, want %q (pivot.RRVersion)", cfg.Roadrunner.Ref, want)
	}
	if cfg.Github.Token.Token == "" {
		t.Error("velox.toml: [github.token] token is required by velox")
	}
	args := strings.Join(cfg.Velox.BuildArgs, " ")
	for _, want := range []string{
		"github.com/roadrunner-server/roadrunner/v2023/internal/meta.version=${VERSION}",
		"github.com/roadrunner-server/roadrunner/v2023/internal/meta.buildTime=${TIME}",
	} {
		if !strings.Contains(args, want) {
			t.Errorf("velox.toml: build_args lack -X %s", want)
		}
	}

	binary := binaryPluginModules(t, mod)
	if !contains(binary, mod.main) {
		t.Errorf("plugins() lacks the pivot plugin (%s)", mod.main)
	}
	for _, m := range binary {
		if m != mod.main && mod.requires[m] == "" {
			t.Errorf("plugins(): module %s is not required by go.mod", m)
		}
	}

	for _, p := range pluginDrift(cfg.Github.Plugins, binary, mod) {
		t.Error(p)
	}

	// velox imports <module path of <folder>/go.mod>: for our modules, that file is here
	for name, p := range cfg.Github.Plugins {
		if p.Folder == "" || p.modulePath() == mod.main || mod.replaces[p.modulePath()] == "" {
			continue
		}
		data, err := os.ReadFile(filepath.Join(root, p.Folder, "go.mod"))
		if err != nil {
			t.Errorf("velox.toml: %s: %v", name, err)
			continue
		}
		if got := modfile.ModulePath(data); got != p.modulePath() {
			t.Errorf("velox.toml: %s: %s/go.mod declares module %q, velox.toml means %q", name, p.Folder, got, p.modulePath())
		}
	}
}

// TestPluginDriftDetection proves pluginDrift catches one-sided changes.
func TestPluginDriftDetection(t *testing.T) {
	mod := goMod{
		main: "github.com/pivotphp/pivotphp-runtime-roadrunner",
		requires: map[string]string{
			"github.com/roadrunner-server/http/v4":                           "v4.5.3",
			"github.com/roadrunner-server/rpc/v4":                            "v4.2.17",
			"github.com/roadrunner-server/informer/v4":                       "v4.3.16",
			"github.com/roadrunner-server/grpc/v4":                           "v4.6.7",
			"github.com/pivotphp/pivotphp-runtime-roadrunner/plugins/memory": "v0.0.0-00010101000000-000000000000",
		},
		replaces: map[string]string{
			"github.com/pivotphp/pivotphp-runtime-roadrunner/plugins/memory": "./plugins/memory",
		},
	}
	rr := func(repo, ref string) veloxPlugin {
		return veloxPlugin{Ref: ref, Owner: "roadrunner-server", Repository: repo}
	}
	base := func() map[string]veloxPlugin {
		return map[string]veloxPlugin{
			"http":  rr("http", "v4.5.3"),
			"rpc":   rr("rpc", "v4.2.17"),
			"pivot": {Ref: "v0.1.0", Owner: "pivotphp", Repository: "pivotphp-runtime-roadrunner"},
			// one of our plugin modules, as plugins/memory
			"memory": {Ref: "v0.1.0", Owner: "pivotphp", Repository: "pivotphp-runtime-roadrunner", Folder: "plugins/memory"},
		}
	}
	binary := []string{
		"github.com/roadrunner-server/informer/v4",
		"github.com/roadrunner-server/http/v4",
		"github.com/roadrunner-server/rpc/v4",
		"github.com/pivotphp/pivotphp-runtime-roadrunner",
		"github.com/pivotphp/pivotphp-runtime-roadrunner/plugins/memory",
	}
	local := func(v map[string]veloxPlugin, change func(*veloxPlugin)) {
		p := v["memory"]
		change(&p)
		v["memory"] = p
	}

	tests := []struct {
		name   string
		velox  func(map[string]veloxPlugin)
		binary []string
		mod    func(*goMod)
		want   string // substring of the single expected problem; "" = in sync
	}{
		{name: "in sync"},
		{name: "plugin only in velox", velox: func(v map[string]veloxPlugin) { v["grpc"] = rr("grpc", "v4.6.7") }, want: "grpc (github.com/roadrunner-server/grpc/v4) is not in cmd/rr plugins()"},
		{name: "plugin only in binary", binary: append(append([]string{}, binary...), "github.com/roadrunner-server/grpc/v4"), want: "github.com/roadrunner-server/grpc/v4 is not in velox.toml"},
		{name: "plugin removed from velox", velox: func(v map[string]veloxPlugin) { delete(v, "rpc") }, want: "rpc/v4 is not in velox.toml"},
		{name: "version drift", velox: func(v map[string]veloxPlugin) { v["http"] = rr("http", "v4.5.4") }, want: "http ref v4.5.4 differs from go.mod"},
		{name: "template plugin listed", velox: func(v map[string]veloxPlugin) { v["informer"] = rr("informer", "v4.3.16") }, want: "must not be listed"},
		{name: "pivot ref not a tag", velox: func(v map[string]veloxPlugin) { p := v["pivot"]; p.Ref = "main"; v["pivot"] = p }, want: "not a semver tag"},
		{name: "local replace", velox: func(v map[string]veloxPlugin) { p := v["pivot"]; p.Replace = "/src"; v["pivot"] = p }, want: "replace"},
		{name: "unknown module in binary", binary: append(append([]string{}, binary...), ""), want: "not provided by any module"},
		{name: "our plugin module at another tag than pivot", velox: func(v map[string]veloxPlugin) {
			local(v, func(p *veloxPlugin) { p.Ref = "v0.0.9" })
		}, want: "memory ref v0.0.9 differs from pivot's v0.1.0"},
		{name: "our plugin module at a branch", velox: func(v map[string]veloxPlugin) {
			local(v, func(p *veloxPlugin) { p.Ref = "main" })
		}, want: "memory ref main is not a semver tag"},
		{name: "go.mod replaces our plugin module with another folder", mod: func(m *goMod) {
			m.replaces["github.com/pivotphp/pivotphp-runtime-roadrunner/plugins/memory"] = "./elsewhere"
		}, want: "memory folder plugins/memory differs from go.mod's replace"},
		{name: "our plugin module not replaced by the checkout", mod: func(m *goMod) {
			delete(m.replaces, "github.com/pivotphp/pivotphp-runtime-roadrunner/plugins/memory")
		}, want: "memory ref v0.1.0 differs from go.mod"},
	}

	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v := base()
			if tt.velox != nil {
				tt.velox(v)
			}
			b := binary
			if tt.binary != nil {
				b = tt.binary
			}
			m := goMod{main: mod.main, requires: map[string]string{}, replaces: map[string]string{}}
			for k, val := range mod.requires {
				m.requires[k] = val
			}
			for k, val := range mod.replaces {
				m.replaces[k] = val
			}
			if tt.mod != nil {
				tt.mod(&m)
			}

			got := pluginDrift(v, b, m)
			switch {
			case tt.want == "" && len(got) != 0:
				t.Fatalf("expected no drift, got %q", got)
			case tt.want != "" && (len(got) != 1 || !strings.Contains(got[0], tt.want)):
				t.Fatalf("expected one problem containing %q, got %q", tt.want, got)
			}
		})
	}
}

func TestVeloxModulePath(t *testing.T) {
	tests := []struct {
		p    veloxPlugin
		want string
	}{
		{veloxPlugin{Ref: "v4.5.3", Owner: "roadrunner-server", Repository: "http"}, "github.com/roadrunner-server/http/v4"},
		{veloxPlugin{Ref: "v0.1.0", Owner: "pivotphp", Repository: "pivotphp-runtime-roadrunner"}, "github.com/pivotphp/pivotphp-runtime-roadrunner"},
		{veloxPlugin{Ref: "v1.2.0", Owner: "o", Repository: "r", Folder: "/sub/"}, "github.com/o/r/sub"},
		{veloxPlugin{Ref: "master", Owner: "o", Repository: "r"}, "github.com/o/r"},
	}
	for _, tt := range tests {
		if got := tt.p.modulePath(); got != tt.want {
			t.Errorf("%+v: got %s, want %s", tt.p, got, tt.want)
		}
	}
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}

	return false
}
