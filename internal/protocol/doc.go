// Package protocol is RoadRunner's http/v4 wire format as pivot speaks it, with no server and
// no pool in it: goridge frame headers (PutHeader, RequestFrameLen), the request context's
// pieces (header fields grouped by canonical name, cookies, the client's IP, form and upload
// trees built with PHP's bracket rules, JSON written by hand into reused buffers) and the
// response context's scanner (ApplyResponseContext into a HeaderSink).
//
// Everything here appends to or reads from caller-owned buffers: strings handed to a
// HeaderSink and HeaderField bytes point into the caller's buffers and live only as long as
// they do.
package protocol
