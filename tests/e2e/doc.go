// Package e2e is an end-to-end suite of this distribution's own plugins (plugins/rpc,
// plugins/memory) against a real `rr serve`: hostile goridge RPC input (rr must survive every
// request a client can send) and the memory KV storage's expiries.
//
// The rr under test is internal/testsupport's (RRBinary): ./rr at the repository root when no
// Go source changed after it was built, else ./cmd/rr built once per test binary. Set
// PIVOT_RR_BIN to run the suite against a prebuilt binary instead (e.g. one built before a fix,
// to see which inputs crash it), and PIVOT_E2E_RR_OUTPUT=<file> to keep the output of every rr
// the tests start (e.g. to read the reports of a `go build -race` binary).
package e2e
