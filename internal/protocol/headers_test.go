package protocol

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/textproto"
	"strconv"
	"strings"
	"testing"
)

func TestAppendCanonicalHeaderName(t *testing.T) {
	for _, name := range []string{"content-type", "X-FORWARDED-FOR", "x-a-b", "accept", "x_under", "bad name", "-x", "é"} {
		got := appendCanonicalHeaderName(nil, []byte(name))
		want, _ := json.Marshal(textproto.CanonicalMIMEHeaderKey(name))
		if `"`+string(got)+`"` != string(want) {
			t.Errorf("%q: got %s, want %s", name, got, want)
		}
	}
}

func TestParseHeaderFields(t *testing.T) {
	raw := "Host: a\r\nX-A:  1 \r\nx-a: 2\r\nContent-type: text/plain\r\nTransfer-Encoding: chunked\r\n\r\n"
	fields := ParseHeaderFields(nil, []byte(raw))
	out := AppendHeaderGroups(nil, fields)
	want := `"X-A":["1","2"],"Content-Type":["text/plain"]`
	if string(out) != want {
		t.Fatalf("got %s, want %s", out, want)
	}
	if again := AppendHeaderGroups(nil, fields); string(again) != want {
		t.Fatalf("the fields are not reusable: %s", again)
	}
}

// Many fields are grouped through a map (60,000 fields took seconds when every field was
// compared with every other): the same output as the pairwise grouping.
func TestHeaderGroupsOfManyFields(t *testing.T) {
	var raw strings.Builder
	for i := 0; i < groupByMapAbove*3; i++ {
		fmt.Fprintf(&raw, "X-%d: v%d\r\nx-%d: w%d\r\nHost: h\r\nx-REPEAT: %d\r\n", i%7, i, i%5, i, i)
	}
	fields := ParseHeaderFields(nil, []byte(raw.String()))
	mapped := appendHeaderGroupsMapped(nil, fields)
	// the pairwise path over the same fields, called directly
	pairwise := func() []byte {
		saved := fields
		var dst []byte
		first := true
		for i := range saved {
			f := &saved[i]
			if f.done || bytes.EqualFold(f.name, hostHeader) {
				continue
			}
			if !first {
				dst = append(dst, ',')
			}
			first = false
			dst = append(appendCanonicalHeaderName(append(dst, '"'), f.name), `":[`...)
			dst = AppendJSONString(dst, b2s(f.value))
			for j := i + 1; j < len(saved); j++ {
				if g := &saved[j]; !g.done && bytes.EqualFold(g.name, f.name) {
					g.done = true
					dst = AppendJSONString(append(dst, ','), b2s(g.value))
				}
			}
			dst = append(dst, ']')
		}
		return dst
	}()
	if string(mapped) != string(pairwise) {
		t.Fatalf("grouped through a map:\n%s\npairwise:\n%s", mapped, pairwise)
	}

	big := make([]HeaderField, 60_000)
	for i := range big {
		big[i] = HeaderField{name: []byte("X-F" + strconv.Itoa(i)), value: []byte("v")}
	}
	out := AppendHeaderGroups(nil, big)
	if !bytes.HasPrefix(out, []byte(`"X-F0":["v"],"X-F1":["v"]`)) || !bytes.HasSuffix(out, []byte(`"X-F59999":["v"]`)) {
		t.Fatalf("60,000 fields: %.60s…", out)
	}
}

func TestSetHeaderField(t *testing.T) {
	raw := []byte("Host: x\r\nX-Request-Id: a\r\nAccept: */*\r\nx-request-id: b\r\n\r\n")
	for _, tc := range []struct {
		value string
		want  []string
	}{
		{"new", []string{"Host: x", "Accept: */*", "X-Request-Id: new"}},
		{"", []string{"Host: x", "Accept: */*"}},
	} {
		fields := SetHeaderField(ParseHeaderFields(nil, raw), []byte("X-Request-Id"), []byte(tc.value))
		var got []string
		for _, f := range fields {
			got = append(got, string(f.name)+": "+string(f.value))
		}
		if strings.Join(got, "|") != strings.Join(tc.want, "|") {
			t.Errorf("value %q: %q, want %q", tc.value, got, tc.want)
		}
	}
}
