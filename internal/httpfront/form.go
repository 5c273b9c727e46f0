package httpfront

import (
	"bytes"
	"mime"
	"net/url"
	"sort"

	"github.com/pivotphp/pivotphp-runtime-roadrunner/internal/protocol"
	"github.com/valyala/fasthttp"
)

// Forms are sent to PHP as a JSON tree built with PHP's bracket rules (protocol.DataTree), as
// RoadRunner's http plugin does.

// readForm parses the body of a form request as net/http (and so RoadRunner's http plugin)
// does, and reports whether the body is a parsed form: urlencoded bodies of POST, PUT and PATCH
// (other methods get an empty form), multipart bodies of any method (fasthttp has already
// streamed their files to temp files). HEAD and OPTIONS bodies are never read.
func (f *Front) readForm(c *fasthttp.RequestCtx, st *requestState) (bool, error) {
	if c.IsHead() || c.IsOptions() {
		return false, nil
	}
	ct := c.Request.Header.ContentType()
	switch {
	case bytes.Contains(ct, []byte("application/x-www-form-urlencoded")):
		st.form = protocol.DataTree{}
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
		for _, k := range sortedKeys(values) { // a map: the tree must not change with its order
			if err = st.form.PushValues(k, values[k]); err != nil {
				return false, err
			}
		}
		return true, nil
	case bytes.Contains(ct, []byte("multipart/form-data")):
		form, err := c.MultipartForm()
		if err != nil {
			return false, err
		}
		return true, st.parseMultipart(form, &f.opts.Uploads, f.opts.UID, f.opts.GID, f.log)
	}
	return false, nil
}

// sortedKeys gives a map's keys in order: pushed in map order, two names that reach the same
// leaf (`a=1&a =2`, `a=1&a[]=2`) would give PHP a different tree from one request to the next.
func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
