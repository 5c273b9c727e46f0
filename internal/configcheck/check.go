// Package configcheck checks a raw configuration section (what viper decodes from YAML, after
// ${VAR} substitution) against the Go struct it is decoded into: every key and nested key is
// looked up in the struct's `mapstructure` tags, found by reflection, so a key added to a
// config struct later is known without editing this package. It reports every problem at once:
// unknown keys (with the nearest known one), and values of the wrong type or out of the type's
// range (with the allowed range). Range rules of the feature itself (num_workers at most 1000)
// stay in each struct's Valid; schema/pivot.schema.json mirrors both (its test checks it).
//
// The type rules are mapstructure's weak decoding as viper runs it (numbers and booleans may be
// quoted: ${VAR} substitution and -o overrides make strings of them), a little stricter where
// the weak rule only hides a mistake: a fraction for a whole number, a boolean for a number, a
// number other than 0/1 for a boolean are errors.
package configcheck

import (
	"fmt"
	"math"
	"reflect"
	"sort"
	"strconv"
	"strings"
	"time"
)

// Kind is what a key holds, as the checks and the schema see it.
type Kind string

// The kinds of values.
const (
	String     Kind = "string"
	Bool       Kind = "bool"
	Int        Kind = "int"
	Uint       Kind = "uint"
	Float      Kind = "float"
	Duration   Kind = "duration"
	List       Kind = "list"    // a list of scalars (Elem says which)
	Map        Kind = "map"     // a map of free keys to scalars (Elem says which)
	Section    Kind = "section" // a struct: known keys only
	SectionSet Kind = "list of sections"
	SectionMap Kind = "map of sections" // free names to sections (name: {keys})
	Any        Kind = "any"             // anything goes (interface{} and the like)
)

// Key is one known key: its dotted path ("pivot.pool.num_workers"; entries of a list of
// sections are "pivot.limit.routes[].prefix"), its kind and Go type.
type Key struct {
	Path string
	Kind Kind
	Elem Kind // List and Map: the kind of the elements
	Type reflect.Type
}

var durationType = reflect.TypeOf(time.Duration(0))

func deref(t reflect.Type) reflect.Type {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	return t
}

func kindOf(t reflect.Type) Kind {
	t = deref(t)
	if t == durationType {
		return Duration
	}
	switch t.Kind() {
	case reflect.String:
		return String
	case reflect.Bool:
		return Bool
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return Int
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return Uint
	case reflect.Float32, reflect.Float64:
		return Float
	case reflect.Struct:
		return Section
	case reflect.Slice, reflect.Array:
		if e := kindOf(t.Elem()); e == Section {
			return SectionSet
		} else if scalar(e) {
			return List
		}
	case reflect.Map:
		if t.Key().Kind() != reflect.String {
			break
		}
		if e := kindOf(t.Elem()); scalar(e) {
			return Map
		} else if e == Section {
			return SectionMap
		}
	}
	return Any
}

func scalar(k Kind) bool {
	switch k {
	case String, Bool, Int, Uint, Float, Duration:
		return true
	}
	return false
}

// field is one mapstructure key of a struct.
type field struct {
	name string
	typ  reflect.Type
}

// fields lists the keys of struct t as mapstructure decodes them: the tag's name, the lower
// case field name when untagged (mapstructure matches names without regard to case), the keys
// of a ",squash" embedded struct as the parent's own.
func fields(t reflect.Type) []field {
	t = deref(t)
	var out []field
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		tag := strings.Split(f.Tag.Get("mapstructure"), ",")
		if f.Anonymous && contains(tag[1:], "squash") {
			out = append(out, fields(f.Type)...)
			continue
		}
		if !f.IsExported() || tag[0] == "-" || contains(tag[1:], "remain") {
			continue
		}
		name := tag[0]
		if name == "" {
			name = strings.ToLower(f.Name)
		}
		out = append(out, field{name: strings.ToLower(name), typ: f.Type})
	}
	return out
}

func hasRemain(t reflect.Type) bool {
	t = deref(t)
	for i := 0; i < t.NumField(); i++ {
		tag := strings.Split(t.Field(i).Tag.Get("mapstructure"), ",")
		if contains(tag[1:], "remain") {
			return true
		}
		if f := t.Field(i); f.Anonymous && contains(tag[1:], "squash") && hasRemain(f.Type) {
			return true
		}
	}
	return false
}

// Keys lists every known key under root for struct type t, sorted by path. The entries of a
// list of sections are under "path[]", the values of a map of sections under "path.*".
func Keys(root string, t reflect.Type) []Key {
	var out []Key
	var walk func(path string, t reflect.Type)
	walk = func(path string, t reflect.Type) {
		for _, f := range fields(t) {
			p := path + "." + f.name
			k := Key{Path: p, Kind: kindOf(f.typ), Type: f.typ}
			ft := deref(f.typ)
			switch k.Kind {
			case List, Map:
				k.Elem = kindOf(ft.Elem())
			}
			out = append(out, k)
			switch k.Kind {
			case Section:
				walk(p, ft)
			case SectionSet:
				walk(p+"[]", ft.Elem())
			case SectionMap:
				walk(p+".*", ft.Elem())
			}
		}
	}
	walk(root, t)
	sort.Slice(out, func(i, j int) bool { return out[i].Path < out[j].Path })
	return out
}

// Problem is one thing wrong with a configuration: the key's path and what is wrong with it.
type Problem struct {
	Path string
	Msg  string
}

func (p *Problem) Error() string { return p.Path + ": " + p.Msg }

// Options tune Check.
type Options struct {
	// Unsupported maps a path to the message said instead of "unknown key" (a section a
	// RoadRunner user writes that this version does not have yet). A known key never gets it.
	Unsupported map[string]string
	// Warn, when set, receives the oddities that are not errors (a duration without a unit).
	Warn func(path, msg string)
}

// Check checks section raw (rooted at root, e.g. "pivot") against struct type t and returns
// every problem, in the order of the sorted keys.
func Check(root string, t reflect.Type, raw map[string]any, opts Options) []error {
	c := checker{opts: opts}
	c.section(root, t, raw)
	return c.errs
}

type checker struct {
	opts Options
	errs []error
}

func (c *checker) fail(path, format string, args ...any) {
	c.errs = append(c.errs, &Problem{Path: path, Msg: fmt.Sprintf(format, args...)})
}

func (c *checker) section(path string, t reflect.Type, raw map[string]any) {
	known := fields(t)
	names := make([]string, len(known))
	for i, f := range known {
		names[i] = f.name
	}
	keys := make([]string, 0, len(raw))
	for k := range raw {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		p := path + "." + k
		i := indexOf(names, strings.ToLower(k))
		if i < 0 {
			if !hasRemain(t) { // a ",remain" field takes the keys it does not know
				c.unknown(path, k, names)
			}
			continue
		}
		c.value(p, known[i].typ, raw[k])
	}
}

func (c *checker) unknown(path, k string, names []string) {
	p := path + "." + k
	if msg, ok := c.opts.Unsupported[strings.ToLower(p)]; ok {
		c.fail(p, "%s", msg)
		return
	}
	if near, ok := nearest(strings.ToLower(k), names); ok {
		c.fail(p, "unknown key, did you mean %s? (%s has: %s)", near, sectionName(path), strings.Join(names, ", "))
		return
	}
	c.fail(p, "unknown key (%s has: %s)", sectionName(path), strings.Join(names, ", "))
}

// sectionName is how a message names the section a key is in: pivot.limit.routes[2] is an
// entry of pivot.limit.routes.
func sectionName(path string) string {
	if i := strings.LastIndexByte(path, '['); i > 0 && strings.HasSuffix(path, "]") {
		return "each of " + path[:i]
	}
	return path
}

// value checks v, the value of the key at path whose Go type is t.
func (c *checker) value(path string, t reflect.Type, v any) {
	if v == nil { // `key:` with nothing after it: the default, as for a key left out
		return
	}
	switch k := kindOf(t); k {
	case Section:
		m, ok := v.(map[string]any)
		if !ok {
			c.fail(path, "want a section of keys (key: value lines below it), got %s", describe(v))
			return
		}
		c.section(path, deref(t), m)
	case SectionSet:
		list, ok := v.([]any)
		if !ok {
			c.fail(path, "want a list of sections (- key: value), got %s", describe(v))
			return
		}
		for i, e := range list {
			m, ok := e.(map[string]any)
			if !ok {
				c.fail(fmt.Sprintf("%s[%d]", path, i), "want a section of keys, got %s", describe(e))
				continue
			}
			c.section(fmt.Sprintf("%s[%d]", path, i), deref(t).Elem(), m)
		}
	case List:
		elem := deref(t).Elem()
		switch list := v.(type) {
		case []any:
			for i, e := range list {
				c.scalar(fmt.Sprintf("%s[%d]", path, i), elem, e)
			}
		case map[string]any:
			c.fail(path, "want a list of %ss ([a, b] or - lines), got %s", describe(reflect.Zero(deref(elem)).Interface()), describe(v))
		default: // a single value is a list of one (a string is split at commas, as viper does)
			c.scalar(path, elem, v)
		}
	case SectionMap:
		m, ok := v.(map[string]any)
		if !ok {
			c.fail(path, "want names, each with a section of keys below it, got %s", describe(v))
			return
		}
		names := make([]string, 0, len(m))
		for name := range m {
			names = append(names, name)
		}
		sort.Strings(names)
		for _, name := range names {
			switch sub := m[name].(type) {
			case nil:
			case map[string]any:
				c.section(path+"."+name, deref(deref(t).Elem()), sub)
			default:
				c.fail(path+"."+name, "want a section of keys, got %s", describe(sub))
			}
		}
	case Map:
		m, ok := v.(map[string]any)
		if !ok {
			c.fail(path, "want a map (name: value lines below it), got %s", describe(v))
			return
		}
		names := make([]string, 0, len(m))
		for name := range m {
			names = append(names, name)
		}
		sort.Strings(names)
		for _, name := range names {
			c.scalar(path+"."+name, deref(t).Elem(), m[name])
		}
	case Any:
	default:
		c.scalar(path, t, v)
	}
}

// scalar checks a value of a scalar key: Go type t.
func (c *checker) scalar(path string, t reflect.Type, v any) {
	if v == nil {
		return
	}
	t = deref(t)
	switch v.(type) {
	case map[string]any, []any:
		c.fail(path, "want %s, got %s", want(t), describe(v))
		return
	}
	switch kindOf(t) {
	case String: // numbers and booleans are read as their text
	case Bool:
		switch x := v.(type) {
		case bool:
		case string:
			if _, err := strconv.ParseBool(strings.TrimSpace(x)); err != nil && strings.TrimSpace(x) != "" {
				c.fail(path, "%q is not a boolean: use true or false", x)
			}
		default:
			if n, ok := integral(v); !ok || (n != 0 && n != 1) {
				c.fail(path, "%v is not a boolean: use true or false", v)
			}
		}
	case Int, Uint:
		lo, hi := intRange(t)
		var n float64
		switch x := v.(type) {
		case bool:
			c.fail(path, "%v is not a number: use a whole number from %s to %s", x, lo, hi)
			return
		case string:
			s := strings.TrimSpace(x)
			if s == "" {
				return // weak decoding reads "" as 0 (an unset ${VAR})
			}
			f, err := strconv.ParseFloat(s, 64)
			if err != nil || !isInt(s) {
				c.fail(path, "%q is not a whole number: use one from %s to %s", x, lo, hi)
				return
			}
			n = f
		default:
			f, ok := number(v)
			if !ok || f != math.Trunc(f) {
				c.fail(path, "%v is not a whole number: use one from %s to %s", v, lo, hi)
				return
			}
			n = f
		}
		if !inIntRange(t, v, n) {
			c.fail(path, "%v is out of range: use a whole number from %s to %s", v, lo, hi)
		}
	case Float:
		switch x := v.(type) {
		case bool:
			c.fail(path, "%v is not a number", x)
		case string:
			if s := strings.TrimSpace(x); s != "" {
				if _, err := strconv.ParseFloat(s, 64); err != nil {
					c.fail(path, "%q is not a number: use e.g. 0.5 or 10", x)
				}
			}
		default:
			if _, ok := number(v); !ok {
				c.fail(path, "%v is not a number", v)
			}
		}
	case Duration:
		switch x := v.(type) {
		case string:
			if _, err := time.ParseDuration(strings.TrimSpace(x)); err != nil {
				c.fail(path, "%q is not a duration: use a number with a unit (ns, us, ms, s, m, h), e.g. 30s, 500ms, 1m30s", x)
			}
		case bool:
			c.fail(path, "%v is not a duration: use a number with a unit, e.g. 30s", x)
		default:
			f, ok := number(v)
			if !ok || f != math.Trunc(f) {
				c.fail(path, "%v is not a duration: use a number with a unit, e.g. 30s", v)
			} else if f != 0 && c.opts.Warn != nil {
				c.opts.Warn(path, fmt.Sprintf("%v has no unit: it is read as %vns (nanoseconds); write it with a unit, e.g. %vs", v, v, v))
			}
		}
	}
}

// number reads YAML's numbers (viper's YAML decoder makes int, uint64 or float64 of them).
func number(v any) (float64, bool) {
	rv := reflect.ValueOf(v)
	switch rv.Kind() {
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return float64(rv.Int()), true
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return float64(rv.Uint()), true
	case reflect.Float32, reflect.Float64:
		return rv.Float(), true
	}
	return 0, false
}

func integral(v any) (float64, bool) {
	f, ok := number(v)
	return f, ok && f == math.Trunc(f)
}

func isInt(s string) bool {
	s = strings.TrimPrefix(strings.TrimPrefix(s, "+"), "-")
	if s == "" {
		return false
	}
	for _, r := range s {
		if r < '0' || r > '9' {
			return false
		}
	}
	return true
}

// intRange is the range of integer type t, as text.
func intRange(t reflect.Type) (lo, hi string) {
	bits := t.Bits()
	if kindOf(t) == Uint {
		return "0", strconv.FormatUint(math.MaxUint64>>(64-bits), 10)
	}
	return strconv.FormatInt(math.MinInt64>>(64-bits), 10), strconv.FormatInt(math.MaxInt64>>(64-bits), 10)
}

// inIntRange says whether v (n as a float) fits integer type t; exact for the integers
// themselves and their text, where a float64 would round the edges of 64 bits.
func inIntRange(t reflect.Type, v any, n float64) bool {
	s := strings.TrimSpace(fmt.Sprint(v))
	if _, isFloat := v.(float64); isFloat || strings.ContainsAny(s, ".eE") {
		s = strconv.FormatFloat(n, 'f', 0, 64)
	}
	if kindOf(t) == Uint {
		_, err := strconv.ParseUint(strings.TrimPrefix(s, "+"), 10, t.Bits())
		return err == nil
	}
	_, err := strconv.ParseInt(s, 10, t.Bits())
	return err == nil
}

func want(t reflect.Type) string {
	switch kindOf(t) {
	case Bool:
		return "true or false"
	case Int, Uint:
		lo, hi := intRange(t)
		return "a whole number from " + lo + " to " + hi
	case Float:
		return "a number"
	case Duration:
		return "a duration such as 30s"
	}
	return "a single value"
}

func describe(v any) string {
	switch x := v.(type) {
	case map[string]any:
		return "a section"
	case []any:
		return "a list"
	case string:
		return strconv.Quote(x)
	case bool:
		return fmt.Sprintf("the boolean %v", x)
	case nil:
		return "nothing"
	}
	if _, ok := number(v); ok {
		return fmt.Sprintf("the number %v", v)
	}
	return fmt.Sprintf("%T", v)
}

// nearest returns the known name closest to k by edit distance, when it is close enough to be
// the likely fix (at most a third of the longer name, at least 2 edits).
func nearest(k string, names []string) (string, bool) {
	best, bestD := "", -1
	for _, n := range names {
		if d := levenshtein(k, n); bestD < 0 || d < bestD {
			best, bestD = n, d
		}
	}
	limit := max(2, max(len(k), len(best))/3)
	if bestD < 0 || bestD > limit {
		// a key that starts or ends like a known one (timeout vs read_timeout) is still a hint
		for _, n := range names {
			if len(k) >= 3 && (strings.HasPrefix(n, k) || strings.HasSuffix(n, k) || strings.HasPrefix(k, n)) {
				return n, true
			}
		}
		return "", false
	}
	return best, true
}

func levenshtein(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}

func contains(list []string, s string) bool { return indexOf(list, s) >= 0 }

func indexOf(list []string, s string) int {
	for i, v := range list {
		if v == s {
			return i
		}
	}
	return -1
}

// Prune returns a copy of section raw (rooted at root) without the keys that problems name, so
// the rest can be decoded and checked further: every problem at once, not only the first kind.
// A problem whose path it cannot follow is left alone (the decode then fails as before).
func Prune(root string, raw map[string]any, problems []error) map[string]any {
	out, _ := deepCopy(raw).(map[string]any)
	for _, err := range problems {
		var p *Problem
		if !asProblem(err, &p) || !strings.HasPrefix(p.Path, root+".") {
			continue
		}
		remove(out, strings.Split(p.Path[len(root)+1:], "."))
	}
	return out
}

func asProblem(err error, p **Problem) bool {
	x, ok := err.(*Problem)
	if ok {
		*p = x
	}
	return ok
}

// remove deletes the key at segs ("routes[1]", "prefx") from m.
func remove(m map[string]any, segs []string) {
	seg := segs[0]
	key, indexes := seg, []int(nil)
	if i := strings.IndexByte(seg, '['); i > 0 {
		key = seg[:i]
		for _, part := range strings.Split(strings.TrimSuffix(seg[i+1:], "]"), "][") {
			n, err := strconv.Atoi(part)
			if err != nil {
				return
			}
			indexes = append(indexes, n)
		}
	}
	if len(segs) == 1 && indexes == nil {
		delete(m, key)
		return
	}
	v := m[key]
	for _, n := range indexes {
		list, ok := v.([]any)
		if !ok || n >= len(list) {
			return
		}
		if len(segs) == 1 && n == indexes[len(indexes)-1] {
			list[n] = nil // a bad entry of a list: nil decodes to the zero value
			return
		}
		v = list[n]
	}
	if sub, ok := v.(map[string]any); ok && len(segs) > 1 {
		remove(sub, segs[1:])
	}
}

func deepCopy(v any) any {
	switch x := v.(type) {
	case map[string]any:
		out := make(map[string]any, len(x))
		for k, e := range x {
			out[k] = deepCopy(e)
		}
		return out
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = deepCopy(e)
		}
		return out
	}
	return v
}
