// Package e2e holds end-to-end tests of this distribution's own plugins (plugins/rpc,
// plugins/memory) against a real `rr serve` built from ./cmd/rr: hostile goridge RPC input
// (rr must survive every request a client can send) and the memory KV storage's expiries.
//
// Set PIVOT_RR_BIN to run them against a prebuilt binary instead (e.g. one built before a
// fix, to see which inputs crash it), and PIVOT_E2E_RR_OUTPUT=<file> to keep the output of
// every rr the tests start (e.g. to read the reports of a `go build -race` binary).
package e2e
