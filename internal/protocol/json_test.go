package protocol

import (
	"encoding/json"
	"testing"
)

func TestAppendJSONStringMatchesEncodingJSON(t *testing.T) {
	cases := []struct {
		name, in string
	}{
		{"plain", "hello"},
		{"empty", ""},
		{"quotes and backslash", `a"b\c`},
		{"control characters", "a\nb\rc\td\x00e\x1f"},
		{"unicode", "héllo wörld ✓ 😀"},
		{"html is kept", "<a href='x'>&</a>"},
		{"line separators", "a\u2028b\u2029c"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got := AppendJSONString(nil, tc.in)
			var back string
			if err := json.Unmarshal(got, &back); err != nil {
				t.Fatalf("%s is not valid JSON: %v", got, err)
			}
			if back != tc.in {
				t.Fatalf("round trip: got %q, want %q", back, tc.in)
			}
		})
	}
}

func TestAppendJSONStringReplacesInvalidUTF8(t *testing.T) {
	got := AppendJSONString(nil, "a\xffb\xc3")
	var back string
	if err := json.Unmarshal(got, &back); err != nil {
		t.Fatalf("%s is not valid JSON: %v", got, err)
	}
	if back != "a\uFFFDb\uFFFD" {
		t.Fatalf("got %q", back)
	}
}
