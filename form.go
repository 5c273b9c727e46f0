package pivot

import (
	"bytes"
	"fmt"
	"mime"
	"net/url"

	"github.com/valyala/fasthttp"
)

// Forms are sent to PHP as a JSON tree built with PHP's bracket rules, exactly as RoadRunner's
// http plugin does, so PSR-7 workers see the same parsed body: `a[b]=1&c[]=2&c[]=3` becomes
// {"a":{"b":"1"},"c":["2","3"]}; a repeated plain key keeps its last value; a repeated file
// key keeps its first file.

// readForm parses the body of a form request as net/http (and so RoadRunner's http plugin)
// does, and reports whether the body is a parsed form: urlencoded bodies of POST, PUT and PATCH
// (other methods get an empty form), multipart bodies of any method (fasthttp has already
// streamed their files to temp files). HEAD and OPTIONS bodies are never read.
func (p *Plugin) readForm(c *fasthttp.RequestCtx, st *requestState) (bool, error) {
	if c.IsHead() || c.IsOptions() {
		return false, nil
	}
	ct := c.Request.Header.ContentType()
	switch {
	case bytes.Contains(ct, []byte("application/x-www-form-urlencoded")):
		st.form = dataTree{}
		if !c.IsPost() && !c.IsPut() && !c.IsPatch() {
			return true, nil
		}
		mt, _, err := mime.ParseMediaType(string(ct))
		if err != nil {
			return false, err
		}
		if mt != "application/x-www-form-urlencoded" {
			return true, nil
		}
		raw, err := st.rawBody()
		if err != nil {
			return false, err
		}
		values, err := url.ParseQuery(string(raw))
		if err != nil {
			return false, err
		}
		for k, v := range values {
			if err = st.form.pushValues(k, v); err != nil {
				return false, err
			}
		}
		return true, nil
	case bytes.Contains(ct, []byte("multipart/form-data")):
		form, err := c.MultipartForm()
		if err != nil {
			return false, err
		}
		return true, st.parseMultipart(form, p.cfg.Uploads, p.uid, p.gid, p.log)
	}
	return false, nil
}

// maxTreeDepth drops field names nested deeper than PHP's default max_input_nesting_level.
const maxTreeDepth = 127

// dataTree holds string, []string, dataTree, *fileUpload or []*fileUpload values.
type dataTree map[string]any

func (t dataTree) pushValues(name string, values []string) error {
	keys := splitFieldName(name)
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

func (t dataTree) pushFiles(name string, files []*fileUpload) error {
	keys := splitFieldName(name)
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
func (t dataTree) mount(keys []string, raw any, emptyIncoming bool, leaf func(leafList bool) any) error {
	if len(keys) == 0 {
		return nil
	}
	k := keys[0]
	leafIncoming := len(keys) == 1 || len(keys) == 2 && keys[1] == ""

	if existing, ok := t[k]; ok {
		_, isBranch := existing.(dataTree)
		switch {
		case !isBranch && !isEmptyValue(existing):
			if len(keys) > 1 && keys[1] != "" {
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
		}
	}

	if leafIncoming {
		t[k] = leaf(len(keys) == 2)
		return nil
	}
	sub, ok := t[k].(dataTree)
	if !ok {
		sub = make(dataTree, 1)
		t[k] = sub
	}
	return sub.mount(keys[1:], raw, emptyIncoming, leaf)
}

func isEmptyValue(v any) bool {
	switch t := v.(type) {
	case string:
		return t == ""
	case []string:
		return len(t) == 0 || len(t) == 1 && t[0] == ""
	case []*fileUpload:
		return len(t) == 0 || len(t) == 1 && t[0] == nil
	default:
		return v == nil
	}
}

// splitFieldName splits `a[b][]` into ["a", "b", ""]; spaces are ignored as in RoadRunner.
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
