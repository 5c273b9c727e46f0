// Package edge is what stands between a client and PHP on pivot's HTTP front: the middleware
// of `pivot.middleware` (RoadRunner's names), each a fasthttp handler around the next one.
//
//   - chain.go: Middleware and Chain, in RoadRunner's order (the last one listed sees a request
//     first);
//   - static.go, etag.go: `static` (pivot.static): files served by Go before PHP, confined to
//     the directory, with RoadRunner's ETags, conditional and range requests (net/http's
//     ServeContent);
//   - compress.go: `gzip`: br, gzip or deflate of a response (fasthttp's CompressHandler), and
//     gzip of a streamed PHP response frame by frame (Compressor.FilterStream);
//   - headers.go: `headers` (pivot.headers, RoadRunner's http.headers keys): CORS preflights
//     answered here, CORS and `response` headers on every response on the way back, `request`
//     headers added to the request's head before PHP;
//   - limit/: `pivot.limit`, a token bucket per client (its address, through trusted proxies'
//     X-Forwarded-For, or a header) before PHP: 429 with Retry-After and RateLimit-* over it;
//     in memory (golang.org/x/time/rate) or in Redis (one GCRA script, shared by instances);
//   - breaker/: `pivot.breaker`, a circuit breaker around the PHP pool (sony/gobreaker/v2):
//     503 with Retry-After while open, probes when half-open, per route prefix.
//
// pivot.limit and pivot.breaker are sections of their own, not names in pivot.middleware:
// plugin.go puts them nearest PHP (the breaker around the front's handler, the limiter around
// the breaker), inside pivot.middleware's chain.
//
// Where it plugs in: plugin.go builds the chain and hands it to the front
// (httpfront.Options.Wrap, and Options.Streams for streamed responses); the front
// (internal/httpfront) never imports edge, and edge imports no other package of pivot. The
// chain runs for every protocol: pivot.ssl's HTTPS, HTTP/2, h2c and HTTP/3 requests are adapted
// onto the same fasthttp handler (internal/httpfront/nethttp.go).
package edge
