// Package edge is what stands between a client and PHP on pivot's HTTP front: the middleware
// of `pivot.middleware` (RoadRunner's names), each a fasthttp handler around the next one.
//
//   - chain.go: Middleware and Chain, in RoadRunner's order (the last one listed sees a request
//     first);
//   - static.go, etag.go: `static` (pivot.static): files served by Go before PHP, confined to
//     the directory, with RoadRunner's ETags, conditional and range requests (net/http's
//     ServeContent);
//   - compress.go: `gzip`: br, gzip or deflate of a response (fasthttp's CompressHandler), and
//     gzip of a streamed PHP response frame by frame (Compressor.FilterStream).
//
// Where it plugs in: plugin.go builds the chain and hands it to the front
// (httpfront.Options.Wrap, and Options.Streams for streamed responses); the front
// (internal/httpfront) never imports edge, and edge imports no other package of pivot. What
// comes next goes here too (issue 19): TLS listeners and certificate reloads, HTTP/2 and
// HTTP/3, headers and CORS, rate limits and the circuit breaker around the pool.
package edge
