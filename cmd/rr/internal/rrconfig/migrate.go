package rrconfig

import (
	"bytes"
	"fmt"
	"sort"
	"strings"

	"gopkg.in/yaml.v3"
)

// RoadRunner 2.x wrote a jobs pipeline's and a kv storage's driver options beside `driver:`;
// RoadRunner 2023 reads them only under `config:` (and refuses a section without one: "config
// not found by provided key"). A FlatSection is one such section, read the 2023 way.

// FlatSection is a jobs pipeline or kv storage written in RoadRunner 2.x's flat layout.
type FlatSection struct {
	// Path is the section's key, e.g. "jobs.pipelines.emails" or "kv.local".
	Path string
	// Config is what RoadRunner 2023 reads under Path + ".config": the options found beside
	// `driver:`, merged into an existing `config:` (which wins on a clash).
	Config map[string]any
	// Moved are the keys that were beside `driver:`, sorted.
	Moved []string
}

// ConfigKey is the key RoadRunner 2023 reads the driver's options from.
func (f FlatSection) ConfigKey() string { return f.Path + ".config" }

// Warning explains the section and shows its 2023 layout.
func (f FlatSection) Warning(driver string) string {
	var b strings.Builder
	name := f.Path[strings.LastIndexByte(f.Path, '.')+1:]
	fmt.Fprintf(&b, "%s uses RoadRunner 2.x's flat layout (driver options beside `driver:`); it is read as RoadRunner 2023 reads this:\n", f.Path)
	// driver first, as users write it (a map would be marshalled in key order)
	var cfg yaml.Node
	_ = cfg.Encode(f.Config)
	cfg.Style = 0
	str := func(v string) *yaml.Node { return &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: v} }
	sec := &yaml.Node{Kind: yaml.MappingNode, Content: []*yaml.Node{str("driver"), str(driver), str("config"), &cfg}}
	doc := &yaml.Node{Kind: yaml.MappingNode, Content: []*yaml.Node{str(name), sec}}
	var buf bytes.Buffer
	enc := yaml.NewEncoder(&buf)
	enc.SetIndent(2)
	_ = enc.Encode(doc)
	_ = enc.Close()
	out := buf.Bytes()
	for _, line := range strings.Split(strings.TrimRight(string(out), "\n"), "\n") {
		b.WriteString("    " + line + "\n")
	}
	b.WriteString("  `rr config migrate -i` rewrites the file to this layout")
	return b.String()
}

// FindFlatSections lists the jobs pipelines and kv storages of a whole configuration (as the
// config plugin unmarshals it) that RoadRunner 2023 would not read: options beside `driver:`,
// or no `config:` at all.
func FindFlatSections(all map[string]any) []FlatSection {
	var out []FlatSection
	if jobs, ok := all["jobs"].(map[string]any); ok {
		if pipes, ok := jobs["pipelines"].(map[string]any); ok {
			out = append(out, flatIn("jobs.pipelines", pipes)...)
		}
	}
	if kv, ok := all["kv"].(map[string]any); ok {
		out = append(out, flatIn("kv", kv)...)
	}
	return out
}

func flatIn(prefix string, sections map[string]any) []FlatSection {
	names := make([]string, 0, len(sections))
	for name := range sections {
		names = append(names, name)
	}
	sort.Strings(names)
	var out []FlatSection
	for _, name := range names {
		sec, ok := sections[name].(map[string]any)
		if !ok {
			continue
		}
		if _, hasDriver := sec["driver"]; !hasDriver {
			continue
		}
		cfg, hasConfig := sec["config"].(map[string]any)
		var moved []string
		for k := range sec {
			if k != "driver" && k != "config" {
				moved = append(moved, k)
			}
		}
		if hasConfig && len(moved) == 0 {
			continue
		}
		merged := make(map[string]any, len(cfg)+len(moved))
		for _, k := range moved {
			merged[k] = sec[k]
		}
		for k, v := range cfg {
			merged[k] = v
		}
		sort.Strings(moved)
		out = append(out, FlatSection{Path: prefix + "." + name, Config: merged, Moved: moved})
	}
	return out
}

// MigrateYAML rewrites a configuration file's text to RoadRunner 2023's layout: in every jobs
// pipeline and kv storage, the options beside `driver:` move under `config:` (created when
// missing). Comments, order and everything else stay as written. It returns the new text and
// the sections it changed (none: the text is returned unchanged).
func MigrateYAML(src []byte) ([]byte, []string, error) {
	var doc yaml.Node
	if err := yaml.Unmarshal(src, &doc); err != nil {
		return nil, nil, fmt.Errorf("the file is not valid YAML: %w", err)
	}
	if len(doc.Content) == 0 || doc.Content[0].Kind != yaml.MappingNode {
		return src, nil, nil
	}
	root := doc.Content[0]
	var changed []string
	if jobs := mappingValue(root, "jobs"); jobs != nil {
		if pipes := mappingValue(jobs, "pipelines"); pipes != nil {
			changed = append(changed, migrateSections("jobs.pipelines", pipes)...)
		}
	}
	if kv := mappingValue(root, "kv"); kv != nil {
		changed = append(changed, migrateSections("kv", kv)...)
	}
	if len(changed) == 0 {
		return src, nil, nil
	}
	var buf bytes.Buffer
	enc := yaml.NewEncoder(&buf)
	enc.SetIndent(2)
	if err := enc.Encode(&doc); err != nil {
		return nil, nil, err
	}
	if err := enc.Close(); err != nil {
		return nil, nil, err
	}
	return buf.Bytes(), changed, nil
}

// mappingValue is the mapping under key in m, nil when absent or not a mapping.
func mappingValue(m *yaml.Node, key string) *yaml.Node {
	if m.Kind != yaml.MappingNode {
		return nil
	}
	for i := 0; i+1 < len(m.Content); i += 2 {
		if m.Content[i].Value == key && m.Content[i+1].Kind == yaml.MappingNode {
			return m.Content[i+1]
		}
	}
	return nil
}

func migrateSections(prefix string, sections *yaml.Node) []string {
	var changed []string
	for i := 0; i+1 < len(sections.Content); i += 2 {
		name, sec := sections.Content[i].Value, sections.Content[i+1]
		if sec.Kind != yaml.MappingNode || mappingIndex(sec, "driver") < 0 {
			continue
		}
		var keep, moved []*yaml.Node
		var config *yaml.Node
		for j := 0; j+1 < len(sec.Content); j += 2 {
			k, v := sec.Content[j], sec.Content[j+1]
			switch k.Value {
			case "driver":
				keep = append(keep, k, v)
			case "config":
				config = v
				keep = append(keep, k, v)
			default:
				moved = append(moved, k, v)
			}
		}
		if config != nil && len(moved) == 0 {
			continue
		}
		if config == nil || config.Kind != yaml.MappingNode {
			config = &yaml.Node{Kind: yaml.MappingNode, Tag: "!!map"}
			keep = append(keep, &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: "config"}, config)
		}
		// a flow-style section ({ driver: memory, priority: 10 }) becomes block style: the
		// nested config reads better on its own lines
		sec.Style, config.Style = 0, 0
		for j := 0; j+1 < len(moved); j += 2 {
			if mappingIndex(config, moved[j].Value) < 0 { // an explicit config: value wins
				config.Content = append(config.Content, moved[j], moved[j+1])
			}
		}
		sec.Content = keep
		changed = append(changed, prefix+"."+name)
	}
	return changed
}

func mappingIndex(m *yaml.Node, key string) int {
	for i := 0; i+1 < len(m.Content); i += 2 {
		if m.Content[i].Value == key {
			return i
		}
	}
	return -1
}
