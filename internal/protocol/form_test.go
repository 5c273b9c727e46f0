package protocol

import (
	"encoding/json"
	"net/url"
	"reflect"
	"testing"
)

func TestSplitFieldName(t *testing.T) {
	cases := map[string][]string{
		"a":        {"a"},
		"a[]":      {"a", ""},
		"a[b]":     {"a", "b"},
		"a[b][c]":  {"a", "b", "c"},
		"a[b][]":   {"a", "b", ""},
		"a[][b]":   {"a", "", "b"},
		" a [ b ]": {"a", "b"},
		"é[ü]":     {"é", "ü"},
	}
	for in, want := range cases {
		if got := splitFieldName(in); !reflect.DeepEqual(got, want) {
			t.Errorf("splitFieldName(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestFormTreeMatchesRoadRunner(t *testing.T) {
	cases := []struct {
		name, form, want string
		wantErr          bool
	}{
		{name: "wire-protocol example", form: "a=1&b[]=x&b[]=y&c[d]=e&a=2&sp=hello+world%21",
			want: `{"a":"2","b":["x","y"],"c":{"d":"e"},"sp":"hello world!"}`},
		{name: "nested", form: "a[b][c]=1&a[b][d]=2&a[e][]=3", want: `{"a":{"b":{"c":"1","d":"2"},"e":["3"]}}`},
		{name: "empty form", form: "", want: `{}`},
		{name: "empty value", form: "a=", want: `{"a":""}`},
		{name: "leaf then branch conflicts", form: "a=1&a[b]=2", wantErr: true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			values, err := url.ParseQuery(tc.form)
			if err != nil {
				t.Fatal(err)
			}
			tree := DataTree{}
			var pushErr error
			// a fixed order for the conflict case: leaf first, then branch
			for _, k := range []string{"a", "a[b]"} {
				if v, ok := values[k]; ok {
					if err := tree.PushValues(k, v); err != nil {
						pushErr = err
					}
					delete(values, k)
				}
			}
			for k, v := range values {
				if err := tree.PushValues(k, v); err != nil {
					pushErr = err
				}
			}
			if tc.wantErr {
				if pushErr == nil {
					t.Fatalf("want a conflict error, got %s", AppendJSONObject(nil, tree))
				}
				return
			}
			if pushErr != nil {
				t.Fatal(pushErr)
			}
			var got, want any
			if err := json.Unmarshal(AppendJSONObject(nil, tree), &got); err != nil {
				t.Fatal(err)
			}
			_ = json.Unmarshal([]byte(tc.want), &want)
			if !reflect.DeepEqual(got, want) {
				t.Fatalf("got %s, want %s", AppendJSONObject(nil, tree), tc.want)
			}
		})
	}
}

func TestFileTree(t *testing.T) {
	tree := DataTree{}
	a, b, c := &FileUpload{Name: "a.txt"}, &FileUpload{Name: "b.txt"}, &FileUpload{Name: "c.txt", Error: UploadErrExtension}
	for _, push := range []struct {
		name  string
		files []*FileUpload
	}{
		{"file", []*FileUpload{a, b}}, // single key keeps the first file
		{"files[]", []*FileUpload{a, b}},
		{"nested[one][two]", []*FileUpload{c}},
	} {
		if err := tree.PushFiles(push.name, push.files); err != nil {
			t.Fatal(err)
		}
	}
	var got map[string]any
	if err := json.Unmarshal(AppendJSONObject(nil, tree), &got); err != nil {
		t.Fatal(err)
	}
	if got["file"].(map[string]any)["name"] != "a.txt" {
		t.Errorf("file: %v", got["file"])
	}
	if files := got["files"].([]any); len(files) != 2 || files[1].(map[string]any)["name"] != "b.txt" {
		t.Errorf("files: %v", got["files"])
	}
	leaf := got["nested"].(map[string]any)["one"].(map[string]any)["two"].(map[string]any)
	if leaf["error"] != float64(UploadErrExtension) || leaf["tmpName"] != "" {
		t.Errorf("nested: %v", leaf)
	}
}
