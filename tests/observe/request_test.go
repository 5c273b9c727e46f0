package observe

import (
	"net/http"
	"strings"
	"testing"

	obs "github.com/pivotphp/pivotphp-runtime-roadrunner/internal/observe"
)

// Every request gets an id: a sane incoming X-Request-Id is kept, a hostile one replaced; PHP
// sees it as the header and as $_SERVER['REQUEST_ID'], and the response carries it.
func TestRequestIDs(t *testing.T) {
	p := startRR(t, 1, "", "")
	for _, tc := range []struct {
		name, incoming string
		kept           bool
	}{
		{"none", "", false},
		{"uuid", "0f8fad5b-d9cb-469f-a165-70867728950e", true},
		{"aws style", "Root=1-5759e988-bd862e3fe1be46a994272793", true},
		{"too long", strings.Repeat("a", obs.MaxIDLen+1), false},
		{"space", "abc def", false},
		{"log forging", `x","level":"error`, false},
		{"list", "a,b", false},
		{"non-ascii", "idé", false},
		{"script", "<script>alert(1)</script>", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := http.Header{}
			if tc.incoming != "" {
				h.Set("X-Request-Id", tc.incoming)
			}
			resp, e := p.get(t, "/id", h)
			got := resp.Header.Get("X-Request-Id")
			if tc.kept && got != tc.incoming {
				t.Fatalf("response id %q, want the incoming %q kept", got, tc.incoming)
			}
			if !tc.kept && (got == tc.incoming || len(got) != obs.IDLen || !obs.SaneID([]byte(got))) {
				t.Fatalf("response id %q: want a new %d-digit id replacing %q", got, obs.IDLen, tc.incoming)
			}
			if e.RequestID != got || e.HeaderID != got {
				t.Fatalf("PHP saw $_SERVER['REQUEST_ID'] %q and X-Request-Id %q; the response says %q", e.RequestID, e.HeaderID, got)
			}
		})
	}
	// ids are new per request
	r1, _ := p.get(t, "/", nil)
	r2, _ := p.get(t, "/", nil)
	if r1.Header.Get("X-Request-Id") == r2.Header.Get("X-Request-Id") {
		t.Fatal("two requests got the same new id")
	}
}
