package edge

import "github.com/valyala/fasthttp"

// Middleware wraps the handler that serves a request: it answers the request itself, or calls
// next and may change the response next wrote.
type Middleware func(next fasthttp.RequestHandler) fasthttp.RequestHandler

// Chain wraps h in mws the way RoadRunner's http plugin applies its `middleware` list: each
// one wraps the chain built so far, so the last one listed sees a request first. With
// ["static", "gzip"] gzip wraps static and compresses its files too; with ["gzip", "static"]
// static answers before gzip runs and files go uncompressed (PHP's responses are compressed
// either way), as on RoadRunner.
func Chain(h fasthttp.RequestHandler, mws ...Middleware) fasthttp.RequestHandler {
	for _, mw := range mws {
		h = mw(h)
	}
	return h
}
