package observe

import (
	"strings"
	"testing"
)

func TestSaneID(t *testing.T) {
	for _, tc := range []struct {
		id   string
		sane bool
	}{
		{"0f8fad5b-d9cb-469f-a165-70867728950e", true},
		{"01ARZ3NDEKTSV4RRFFQ69G5FAV", true},
		{"Root=1-5759e988-bd862e3fe1be46a994272793", true},
		{"abc+/=@_.:", true},
		{"", false},
		{strings.Repeat("a", MaxIDLen), true},
		{strings.Repeat("a", MaxIDLen+1), false},
		{"a b", false},
		{`a"b`, false},
		{"a,b", false},
		{"a;b", false},
		{"a\tb", false},
		{"a\x00b", false},
		{"a\x7fb", false},
		{"é", false},
		{`{"level":"error"}`, false},
		{"<script>", false},
	} {
		if got := SaneID([]byte(tc.id)); got != tc.sane {
			t.Errorf("SaneID(%q) = %v, want %v", tc.id, got, tc.sane)
		}
	}
}

func TestNewID(t *testing.T) {
	seen := map[string]bool{}
	var buf [IDLen]byte
	for i := 0; i < 1000; i++ {
		id := string(NewID(&buf))
		if len(id) != IDLen || !SaneID([]byte(id)) {
			t.Fatalf("id %q: want %d hex digits", id, IDLen)
		}
		if seen[id] {
			t.Fatalf("id %q generated twice", id)
		}
		seen[id] = true
	}
	if n := testing.AllocsPerRun(100, func() { NewID(&buf) }); n != 0 {
		t.Errorf("NewID allocates %v times", n)
	}
}
