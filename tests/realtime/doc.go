// Package realtime tests pivot.broadcast (internal/realtime) against the real ./rr binary with
// real PHP workers: WebSocket and SSE clients, PHP's auth route and its publishes over RPC,
// two instances on one real Redis, limits and the drain, a load test (PIVOT_BROADCAST_CLIENTS,
// default 200; 2000 is the size) and a headless Chromium on examples/chat.
package realtime
