package protocol

import (
	"fmt"
	"strings"
	"unicode/utf8"
)

// Forms are sent to PHP as a JSON tree built with PHP's bracket rules, exactly as RoadRunner's
// http plugin does, so PSR-7 workers see the same parsed body: `a[b]=1&c[]=2&c[]=3` becomes
// {"a":{"b":"1"},"c":["2","3"]}; a repeated plain key keeps its last value; a repeated file
// key keeps its first file.

// maxTreeDepth drops field names nested deeper than PHP's default max_input_nesting_level.
const maxTreeDepth = 127

// DataTree holds string, []string, DataTree, *FileUpload or []*FileUpload values.
type DataTree map[string]any

// PushValues mounts a field's values at the path its name gives (`a[b][]`): a plain name keeps
// the last value, a `[]` name the list.
func (t DataTree) PushValues(name string, values []string) error {
	keys := splitFieldName(validUTF8Name(name))
	if len(keys) > maxTreeDepth {
		return nil
	}
	return t.mount(keys, values, len(values) == 0 || len(values) == 1 && values[0] == "", func(leafList bool) any {
		if leafList || len(values) == 0 {
			return values
		}
		return values[len(values)-1]
	})
}

// PushFiles mounts a file field's uploads at the path its name gives: a plain name keeps the
// first file, a `[]` name the list.
func (t DataTree) PushFiles(name string, files []*FileUpload) error {
	keys := splitFieldName(validUTF8Name(name))
	if len(keys) > maxTreeDepth {
		return nil
	}
	return t.mount(keys, files, len(files) == 0, func(leafList bool) any {
		if leafList || len(files) == 0 {
			return files
		}
		return files[0]
	})
}

// mount places a leaf at keys. leaf(true) gives the list form (`name[]`), leaf(false) the
// single form. Conflicts between a leaf and a branch of the same name are errors, as in
// RoadRunner ("invalid multiple values to key").
func (t DataTree) mount(keys []string, raw any, emptyIncoming bool, leaf func(leafList bool) any) error {
	if len(keys) == 0 {
		return nil
	}
	k := keys[0]
	leafIncoming := len(keys) == 1 || len(keys) == 2 && keys[1] == ""

	if existing, ok := t[k]; ok {
		_, isBranch := existing.(DataTree)
		switch {
		case !isBranch && !isEmptyValue(existing):
			if !leafIncoming { // a branch where a value is: `a[b]`, and `a[][b]` too
				return fmt.Errorf("invalid multiple values to key '%s' in tree", k)
			}
			if emptyIncoming {
				return nil
			}
		case isBranch && leafIncoming:
			if !emptyIncoming {
				return fmt.Errorf("invalid multiple values to key '%s' in tree", k)
			}
			return nil
		case !isBranch && emptyIncoming && len(keys) == 1 && isListValue(existing):
			// two empty leaves (`a[]=&a=`): the list stays, whichever came first (the names
			// come from a map: the tree must not depend on their order)
			return nil
		}
	}

	if leafIncoming {
		t[k] = leaf(len(keys) == 2)
		return nil
	}
	sub, ok := t[k].(DataTree)
	if !ok {
		sub = make(DataTree, 1)
		t[k] = sub
	}
	return sub.mount(keys[1:], raw, emptyIncoming, leaf)
}

func isListValue(v any) bool {
	switch v.(type) {
	case []string, []*FileUpload:
		return true
	}
	return false
}

func isEmptyValue(v any) bool {
	switch t := v.(type) {
	case string:
		return t == ""
	case []string:
		return len(t) == 0 || len(t) == 1 && t[0] == ""
	case []*FileUpload:
		return len(t) == 0 || len(t) == 1 && t[0] == nil
	default:
		return v == nil
	}
}

// splitFieldName splits `a[b][]` into ["a", "b", ""]; spaces are ignored as in RoadRunner.
// validUTF8Name replaces each invalid UTF-8 byte of a field name with U+FFFD, as the JSON
// encoder would: two names that differ only there (`%FA`, `%8B`) are then one key in the tree,
// merged by its rules, instead of two keys that collide in the JSON in map order (and PHP,
// keeping the last, would get a different value from one request to the next).
func validUTF8Name(name string) string {
	if utf8.ValidString(name) {
		return name
	}
	var b strings.Builder
	b.Grow(len(name) + 8)
	for i := 0; i < len(name); {
		r, size := utf8.DecodeRuneInString(name[i:])
		if r == utf8.RuneError && size == 1 {
			b.WriteRune(utf8.RuneError)
		} else {
			b.WriteString(name[i : i+size])
		}
		i += size
	}
	return b.String()
}

func splitFieldName(name string) []string {
	keys := make([]string, 1, 4)
	cur := make([]byte, 0, len(name))
	const (
		inName = iota
		afterOpen
		afterClose
	)
	state := inName
	for i := 0; i < len(name); i++ {
		c := name[i]
		switch c {
		case ' ':
			continue
		case '[':
			state = afterOpen
			continue
		case ']':
			if state == afterOpen {
				keys[len(keys)-1] = string(cur)
				cur = cur[:0]
				keys = append(keys, "")
			}
			state = afterClose
			continue
		}
		if state == afterOpen || state == afterClose {
			keys[len(keys)-1] = string(cur)
			cur = cur[:0]
			keys = append(keys, "")
		}
		cur = append(cur, c)
		state = inName
	}
	keys[len(keys)-1] = string(cur)
	return keys
}
