// Package observe tests pivot.worker_logs and pivot.debug (and, from the observe-request work,
// request ids, tracing and the access log) against the real ./rr with real PHP workers.
package observe

import (
	"testing"

	"github.com/pivotphp/pivotphp-runtime-roadrunner/internal/testsupport"
)

// TestMain removes the rr that testsupport built for the suite, if it built one.
func TestMain(m *testing.M) { testsupport.Main(m) }
