package httpfront

import (
	"bytes"
	"encoding/json"
	"mime"
	"mime/multipart"
	"net/url"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/pivotphp/pivotphp-runtime-roadrunner/internal/protocol"
	"github.com/valyala/fasthttp"
	"go.uber.org/zap"
)

// plainFieldName: a name PHP's bracket rules leave as it is (no brackets, no spaces), whose
// value the tree must hold at the top level exactly as net/url or mime/multipart parsed it.
func plainFieldName(k string) bool {
	return utf8.ValidString(k) && !strings.ContainsAny(k, "[] ")
}

// topKey is the top-level key PHP's bracket rules give a name: spaces dropped, up to the first
// bracket (`a [b]` and `a]b` are both under "a").
func topKey(name string) string {
	if i := strings.IndexAny(name, "[]"); i >= 0 {
		name = name[:i]
	}
	return strings.ReplaceAll(name, " ", "")
}

// treeLeaves collects the strings of a decoded form tree.
func treeLeaves(v any, out map[string]bool) {
	switch t := v.(type) {
	case string:
		out[t] = true
	case []any:
		for _, e := range t {
			treeLeaves(e, out)
		}
	case map[string]any:
		for _, e := range t {
			treeLeaves(e, out)
		}
	}
}

// Two names can reach the same leaf (`a=1&a =2`: spaces are dropped; `a=1&a[]=2`: a value and a
// list), and the later push wins; url.Values and multipart.Form are maps, so form.go and
// uploads.go push the names in sorted order: the tree PHP gets is the same for every request.

// pushSorted builds the tree from values in sorted (or reverse) key order: the request path
// pushes them in map order, which must not matter.
func pushSorted(values map[string][]string, reverse bool) (any, error) {
	keys := make([]string, 0, len(values))
	for k := range values {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	if reverse {
		slices.Reverse(keys)
	}
	tree := protocol.DataTree{}
	for _, k := range keys {
		if err := tree.PushValues(k, values[k]); err != nil {
			return nil, err
		}
	}
	var decoded any
	return decoded, json.Unmarshal(protocol.AppendJSONObject(nil, tree), &decoded)
}

// FuzzFormBody: a POST body as application/x-www-form-urlencoded (even kind) or
// multipart/form-data with the given boundary (odd kind), through the front's requestBody and
// appendRequestContext as HandleRequest runs them. Always: no panic, and the body PHP gets (the
// form tree) and the context's "uploads" are valid JSON. The tree agrees with net/url's
// ParseQuery (urlencoded) or mime/multipart's ReadForm (multipart) of the same bytes:
//   - a body they refuse is refused (400), one they read is read, unless two names conflict in
//     PHP's bracket rules (`a=1&a[b]=2`: RoadRunner's "invalid multiple values");
//   - the tree does not depend on the order the names are pushed in (url.Values is a map), or,
//     where it would, is the one of the sorted order;
//   - a plain name (no brackets, no spaces, no other name under the same key: `a` and `a [b]`)
//     holds its last value; a plain file name its first file: name, type and size as mime/multipart read them, stored whole in the uploads dir;
//   - every string in the tree is one of the values sent (invalid UTF-8 as U+FFFD);
//   - every stored file is gone once the request ends.
//
// Names deeper than 127 levels are dropped (PHP's max_input_nesting_level); names with invalid
// UTF-8 that differ only there collide as U+FFFD in the JSON, where PHP keeps the last.
func FuzzFormBody(f *testing.F) {
	deep := strings.Repeat("[x]", 130)
	seeds := []struct {
		kind     uint8
		boundary string
		body     string
	}{
		{0, "", "a=1&b[]=2&b[]=3&c[d][e]=4&c[d][f]=5&plain=x&plain=y"},
		{0, "", "a=1&a[b]=2"},
		{0, "", "a=&a[b]=2&c[]=&c=1"},
		{0, "", "a" + deep + "=too-deep&b" + strings.Repeat("[y]", 126) + "=deep-enough"},
		{0, "", "a[b][c][d][e][f][g][h]=1&a[b][c][d][e][f][g][i]=2&a[b][c][]=3"},
		{0, "", "%ff=%fe&%fe=1&=empty&[]=x&[a]=y&a]b=z& a [ b ] = sp&x%5By%5D=enc"},
		{0, "", "a=%zz&b=1"},
		{0, "", "a=1;b=2"},
		{0, "", "q=%0d%0aSet-Cookie:%20evil&n=%00&u=\\ud800&j=\"}{\""},
		{1, "B", "--B\r\nContent-Disposition: form-data; name=\"f\"\r\n\r\nv\r\n" +
			"--B\r\nContent-Disposition: form-data; name=\"up\"; filename=\"a.txt\"\r\nContent-Type: text/plain\r\n\r\nhello\r\n" +
			"--B\r\nContent-Disposition: form-data; name=\"up\"; filename=\"b.txt\"\r\n\r\nsecond\r\n" +
			"--B\r\nContent-Disposition: form-data; name=\"many[]\"; filename=\"c\"\r\n\r\n\r\n--B--\r\n"},
		{1, "B", "--B\r\nContent-Disposition: form-data; name=\"a[b]\"\r\n\r\n1\r\n--B\r\nContent-Disposition: form-data; name=\"a\"\r\n\r\n2\r\n--B--\r\n"},
		{1, "B", "--B\r\nContent-Disposition: form-data; name=\"\"\r\n\r\nempty\r\n--B\r\nContent-Disposition: form-data; name=\"\xff\"; filename=\"\xfe\\\"\r\nContent-Type: \x00\r\n\r\n\xff\r\n--B--\r\n"},
		{1, "B", "--B\r\nContent-Disposition: form-data; name=\"f\"\r\n\r\nno end"},
		{1, "quoted boundary with spaces", "--quoted boundary with spaces\r\nContent-Disposition: form-data; name=\"x\"\r\n\r\n1\r\n--quoted boundary with spaces--"},
		{1, "", "--\r\n"},
	}
	for _, s := range seeds {
		f.Add(s.kind, s.boundary, []byte(s.body))
	}
	dir := f.TempDir()
	front := New(Options{Uploads: Uploads{Dir: dir}}, nil, nopMetrics{}, zap.NewNop())
	f.Fuzz(func(t *testing.T, kind uint8, boundary string, body []byte) {
		c := &fasthttp.RequestCtx{}
		c.Request.Header.SetMethod("POST")
		c.Request.SetRequestURI("/form")
		c.Request.Header.SetHost("x")
		ct := "application/x-www-form-urlencoded"
		if kind%2 == 1 {
			ct = mime.FormatMediaType("multipart/form-data", map[string]string{"boundary": boundary})
			if ct == "" {
				return // not a boundary a client can send
			}
		}
		c.Request.Header.SetContentType(ct)
		c.Request.SetBody(body)

		st := front.states.Get().(*requestState)
		st.f, st.c = front, c
		parsed, payload, err := front.requestBody(c, st)
		if kind%2 == 1 && strings.Contains(ct, "boundary*=") {
			// FormatMediaType wrote the boundary RFC 2231-encoded (it has bytes a plain
			// parameter cannot hold): fasthttp reads plain boundaries only, as RFC 7578 writes
			// them, so the front refuses the body (400) rather than read it with a wrong one
			if err == nil {
				t.Fatalf("%q: boundary %q RFC 2231-encoded (%s): the front read it", body, boundary, ct)
			}
			return
		}
		var uploads any
		if err == nil {
			if !parsed || !json.Valid(payload) {
				t.Fatalf("%q: parsed %v, form JSON %s", body, parsed, payload)
			}
			var ctx []byte
			ctx, st.fields = appendRequestContext(nil, c, st.fields, parsed, st.files)
			var decoded decodedContext
			if e := json.Unmarshal(ctx, &decoded); e != nil {
				t.Fatalf("%q: context %s: %v", body, ctx, e)
			}
			uploads = decoded.Uploads
		}
		var tree map[string]any
		if err == nil {
			if e := json.Unmarshal(payload, &tree); e != nil {
				t.Fatal(e)
			}
		}

		if kind%2 == 0 {
			values, refErr := url.ParseQuery(string(body))
			a, errA := pushSorted(values, false)
			b, errB := pushSorted(values, true)
			switch {
			case refErr != nil:
				if err == nil {
					t.Fatalf("%q: net/url refuses it (%v), the front reads it", body, refErr)
				}
			case (errA == nil) != (errB == nil) || errA == nil && !reflect.DeepEqual(a, b):
				// the front pushes the names in sorted order: that one
				if (errA == nil) != (err == nil) || err == nil && !reflect.DeepEqual(any(tree), a) {
					t.Fatalf("%q: front %v %v, sorted %v %v", body, tree, err, a, errA)
				}
			case (errA == nil) != (err == nil):
				t.Fatalf("%q: front %v, the tree %v", body, err, errA)
			case err == nil:
				if !reflect.DeepEqual(any(tree), a) {
					t.Fatalf("%q: tree %v, want %v", body, tree, a)
				}
				checkFormValues(t, body, tree, values)
			}
		} else {
			mf, refErr := multipart.NewReader(bytes.NewReader(body), boundary).ReadForm(16 << 20)
			switch {
			case refErr != nil:
				if err == nil {
					t.Fatalf("%q: mime/multipart refuses it (%v), the front reads it", body, refErr)
				}
			case err != nil && !strings.Contains(err.Error(), "invalid multiple values"):
				t.Fatalf("%q: mime/multipart reads it, the front refuses it: %v", body, err)
			case err == nil:
				checkFormValues(t, body, tree, mf.Value)
				checkUploads(t, body, uploads, mf)
			}
			if mf != nil {
				_ = mf.RemoveAll()
			}
		}

		front.endRequest(st)
		if left, _ := filepath.Glob(filepath.Join(dir, "*")); len(left) > 0 {
			t.Fatalf("%q: files left in the uploads dir: %v", body, left)
		}
	})
}

func checkFormValues(t *testing.T, body []byte, tree map[string]any, values map[string][]string) {
	t.Helper()
	sent := map[string]bool{}
	names := map[string]int{} // top-level key → how many names share it
	for k := range values {
		names[topKey(k)]++
	}
	for k, vs := range values {
		for _, v := range vs {
			sent[validRunes(v)] = true
		}
		if plainFieldName(k) && len(vs) > 0 && names[k] == 1 {
			got, want := tree[k], validRunes(vs[len(vs)-1])
			if _, str := got.(string); !str && got != nil && want == "" {
				continue // `a=&a[b]=1`, `a[]=1&a=`: an empty plain value gives way to a branch or a list
			}
			if got != want {
				t.Fatalf("%q: %q is %#v, want %q", body, k, got, want)
			}
		}
	}
	leaves := map[string]bool{}
	treeLeaves(tree, leaves)
	for l := range leaves {
		if !sent[l] {
			t.Fatalf("%q: the tree holds %q, which was not sent", body, l)
		}
	}
}

func checkUploads(t *testing.T, body []byte, uploads any, mf *multipart.Form) {
	t.Helper()
	tree, _ := uploads.(map[string]any)
	if uploads == nil || (tree == nil) {
		t.Fatalf("%q: uploads %#v, want an object", body, uploads)
	}
	names := map[string]int{}
	for k := range mf.File {
		names[topKey(k)]++
	}
	for k, hs := range mf.File {
		if !plainFieldName(k) || len(hs) == 0 || names[k] > 1 {
			continue
		}
		got, _ := tree[k].(map[string]any)
		h := hs[0]
		if got == nil || got["name"] != validRunes(h.Filename) || got["mime"] != validRunes(h.Header.Get("Content-Type")) ||
			got["size"] != float64(h.Size) || got["error"] != float64(0) {
			t.Fatalf("%q: upload %q is %#v, mime/multipart read %q %q %d bytes", body, k, tree[k], h.Filename, h.Header.Get("Content-Type"), h.Size)
		}
		name, _ := got["tmpName"].(string)
		stored, err := os.ReadFile(name)
		if err != nil {
			t.Fatalf("%q: upload %q: %v", body, k, err)
		}
		src, _ := h.Open()
		want := new(bytes.Buffer)
		_, _ = want.ReadFrom(src)
		_ = src.Close()
		if !bytes.Equal(stored, want.Bytes()) {
			t.Fatalf("%q: upload %q stored %q, sent %q", body, k, stored, want.Bytes())
		}
	}
}
