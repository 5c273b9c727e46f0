package protocol

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"reflect"
	"strconv"
	"testing"
	"unicode/utf8"
)

// headerPair is one AddHeader call, in order.
type headerPair struct{ name, value string }

type pairSink []headerPair

func (s *pairSink) AddHeader(name, value string) {
	*s = append(*s, headerPair{name, value})
}

var errRefDecode = errors.New("not a response context")

// refResponseContext decodes a response context with encoding/json's tokenizer, by the rules
// ApplyResponseContext documents: a top-level object; "status" a JSON integer that fits an
// int (absent: 0); "headers" null, an empty array (PHP's []) or an object whose members are an
// array of scalars or one scalar; strings give their decoded value, numbers and true/false/null
// their literal text (PHP may encode 13 for "13"); other members are skipped.
//
// Deliberate differences from decoding into a Go map (kept here as the scanner has them):
// a duplicate "status" keeps the last, as encoding/json does; a duplicate "headers" member or a
// duplicate header name adds every occurrence, where a map would keep the last (PHP's
// json_encode never writes a duplicate key, so no real worker sends one).
func refResponseContext(ctx []byte) (int, []headerPair, error) {
	if !json.Valid(ctx) {
		return 0, nil, errRefDecode
	}
	d := json.NewDecoder(bytes.NewReader(ctx))
	d.UseNumber()
	if t, err := d.Token(); err != nil || t != json.Delim('{') {
		return 0, nil, errRefDecode
	}
	status := 0
	var pairs []headerPair
	for d.More() {
		t, err := d.Token()
		if err != nil {
			return 0, nil, err
		}
		key := t.(string)
		switch key {
		case "status":
			t, err := d.Token()
			if err != nil {
				return 0, nil, err
			}
			n, ok := t.(json.Number)
			if !ok {
				return 0, nil, errRefDecode
			}
			v, err := strconv.Atoi(string(n)) // the JSON grammar: refuses 1.0, 1e2
			if err != nil {
				return 0, nil, errRefDecode
			}
			status = v
		case "headers":
			if pairs, err = refHeaders(d, pairs); err != nil {
				return 0, nil, err
			}
		default:
			var skip json.RawMessage
			if err := d.Decode(&skip); err != nil {
				return 0, nil, err
			}
		}
	}
	if _, err := d.Token(); err != nil { // the closing brace
		return 0, nil, err
	}
	if _, err := d.Token(); err != io.EOF {
		return 0, nil, errRefDecode
	}
	return status, pairs, nil
}

func refHeaders(d *json.Decoder, pairs []headerPair) ([]headerPair, error) {
	t, err := d.Token()
	if err != nil {
		return nil, err
	}
	switch t {
	case nil:
		return pairs, nil
	case json.Delim('['):
		if d.More() {
			return nil, errRefDecode
		}
		_, err = d.Token()
		return pairs, err
	case json.Delim('{'):
	default:
		return nil, errRefDecode
	}
	for d.More() {
		t, err := d.Token()
		if err != nil {
			return nil, err
		}
		name := t.(string)
		t, err = d.Token()
		if err != nil {
			return nil, err
		}
		if t == json.Delim('[') {
			for d.More() {
				if t, err = d.Token(); err != nil {
					return nil, err
				}
				v, ok := refScalar(t)
				if !ok {
					return nil, errRefDecode
				}
				pairs = append(pairs, headerPair{name, v})
			}
			if _, err = d.Token(); err != nil {
				return nil, err
			}
			continue
		}
		v, ok := refScalar(t)
		if !ok {
			return nil, errRefDecode
		}
		pairs = append(pairs, headerPair{name, v})
	}
	_, err = d.Token()
	return pairs, err
}

func refScalar(t json.Token) (string, bool) {
	switch v := t.(type) {
	case string:
		return v, true
	case json.Number:
		return string(v), true
	case bool:
		return strconv.FormatBool(v), true
	case nil:
		return "null", true
	}
	return "", false
}

// FuzzApplyResponseContext: for any bytes a worker sends as its response context, the scanner
// never panics, and whenever encoding/json reads the bytes as a response context (above), the
// scanner succeeds with the same status and the same header values, byte for byte, in the same
// order. Escaped CR, LF and NUL decode as encoding/json decodes them: refusing them in a response
// is the HTTP front's job (httpfront's FuzzResponseHead).
//
// The scanner is lenient where encoding/json is strict (it has no reason to validate bytes it
// ignores): it may accept invalid JSON (a number with leading zeros, an unquoted scalar, raw
// control bytes in a string, unbalanced brackets inside a skipped member, bytes after the
// object), and passes invalid UTF-8 in a string on as received. What it accepts there is not compared, only that it does not panic and returns a
// status the handler then checks (100-599, else a 500).
func FuzzApplyResponseContext(f *testing.F) {
	seeds := []string{
		`{"status":200,"headers":{"Content-Type":["text/plain"],"Set-Cookie":["a=1","b=2"]}}`,
		`{"status":201,"headers":[]}`,
		`{"status":404,"headers":null}`,
		`{}`,
		`{"headers":{"X-One":"single","X-Num":[13],"X-Bool":[true,false,null]}}`,
		`{"status":200,"headers":{"Location":["http:\/\/x\/y?a=\u00e9\"q"]}}`,
		// response splitting: escaped CR/LF/NUL decode to the raw bytes; the front neutralises them
		`{"status":200,"headers":{"X":["a\r\nSet-Cookie: evil=1"],"Y":["nul\u0000byte"]}}`,
		"{\"status\":200,\"headers\":{\"X\":[\"raw\r\nSplit: 1\"]}}",
		// surrogates: a pair, a lone high, a lone low, a high followed by a non-surrogate escape
		`{"status":200,"headers":{"X":["\ud83d\ude00","\ud800","\udc00","\ud800\u0041","\ud800x"]}}`,
		// invalid UTF-8 in a string
		"{\"status\":200,\"headers\":{\"X\":[\"\xff\xfe\"]}}",
		// huge and odd numbers
		`{"status":99999999999999999999999}`,
		`{"status":-1}`,
		`{"status":1e2}`,
		`{"status":200.0}`,
		`{"status":0200}`,
		`{"status":"200"}`,
		`{"status":null}`,
		// duplicate keys
		`{"status":500,"status":200}`,
		`{"headers":{"A":["1"]},"headers":{"A":["2"]}}`,
		`{"headers":{"A":["1"],"A":["2"]}}`,
		// unknown members, nested
		`{"extra":{"a":[1,{"b":"}"}]},"status":202,"headers":{}}`,
		`{"x":[[[[[[[[[[[[[[[[[[[[]]]]]]]]]]]]]]]]]]],"status":200}`,
		// empty names and bad names
		`{"headers":{"":["v"],"Bad Name":["v"],"X:Y":["v"]}}`,
		// trailing bytes and truncation
		`{"status":200}garbage`,
		`{"status":200,"headers":{"A":["1"`,
		`{"status":200,}`,
		` { "status" : 200 , "headers" : { "A" : [ "1" ] } } `,
	}
	for _, s := range seeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, ctx []byte) {
		var got pairSink
		status, err := ApplyResponseContext(ctx, &got)
		refStatus, refPairs, refErr := refResponseContext(ctx)
		if refErr != nil {
			return // not JSON (or not a context): the scanner may refuse or be lenient
		}
		if err != nil {
			t.Fatalf("%q: scanner refuses (%v) what encoding/json reads as status %d headers %q", ctx, err, refStatus, refPairs)
		}
		if status != refStatus {
			t.Fatalf("%q: status %d, encoding/json %d", ctx, status, refStatus)
		}
		if len(got) == 0 && len(refPairs) == 0 {
			return
		}
		if !utf8.Valid(ctx) {
			// deliberate: invalid UTF-8 inside a string is passed on as received (bytes
			// 0x80-0xff are obs-text, valid in a field value), where encoding/json gives U+FFFD
			// for each bad byte (PHP's json_encode never writes invalid UTF-8)
			for i := range got {
				got[i].name, got[i].value = string([]rune(got[i].name)), string([]rune(got[i].value))
			}
		}
		if !reflect.DeepEqual([]headerPair(got), refPairs) {
			t.Fatalf("%q: headers\n got %q\nwant %q", ctx, got, refPairs)
		}
	})
}
