package protocol

import (
	"errors"
	"net/http"
	"strconv"
	"unicode/utf16"
	"unicode/utf8"
)

// The worker answers with the context {"status":<int>,"headers":{"Name":["v",...]}} followed by
// the body. The context has a fixed shape, so it is scanned directly into the response headers;
// the strings point into ctx, which the caller must not reuse while the headers live.

var errBadContext = errors.New("malformed response context from worker")

type jsonScanner struct {
	b []byte
	i int
}

// HeaderSink receives the response headers one value at a time; name and value point into
// the context and are valid only during the call.
type HeaderSink interface {
	AddHeader(name, value string)
}

// ApplyResponseContext parses ctx, adds its headers to h and returns the status (0 when the
// worker sent no status).
func ApplyResponseContext(ctx []byte, h HeaderSink) (int, error) {
	s := jsonScanner{b: ctx}
	status := 0
	if !s.consume('{') {
		return 0, errBadContext
	}
	if s.consume('}') {
		return 0, nil
	}
	for {
		key, err := s.str()
		if err != nil || !s.consume(':') {
			return 0, errBadContext
		}
		switch key {
		case "status":
			if status, err = s.integer(); err != nil {
				return 0, err
			}
		case "headers":
			if err = s.headers(h); err != nil {
				return 0, err
			}
		default:
			if err = s.skipValue(); err != nil {
				return 0, err
			}
		}
		if s.consume(',') {
			continue
		}
		if s.consume('}') {
			return status, nil
		}
		return 0, errBadContext
	}
}

func (s *jsonScanner) ws() {
	for s.i < len(s.b) {
		switch s.b[s.i] {
		case ' ', '\t', '\n', '\r':
			s.i++
		default:
			return
		}
	}
}

func (s *jsonScanner) consume(c byte) bool {
	s.ws()
	if s.i < len(s.b) && s.b[s.i] == c {
		s.i++
		return true
	}
	return false
}

func (s *jsonScanner) peek() byte {
	s.ws()
	if s.i < len(s.b) {
		return s.b[s.i]
	}
	return 0
}

func (s *jsonScanner) integer() (int, error) {
	s.ws()
	start := s.i
	for s.i < len(s.b) && (s.b[s.i] == '-' || s.b[s.i] >= '0' && s.b[s.i] <= '9') {
		s.i++
	}
	n, err := strconv.Atoi(b2s(s.b[start:s.i]))
	if err != nil {
		return 0, errBadContext
	}
	return n, nil
}

// headers reads {"Name":["v",...]} (PHP's [] for an empty map and null are accepted too).
func (s *jsonScanner) headers(h HeaderSink) error {
	switch s.peek() {
	case 'n':
		return s.skipValue()
	case '[':
		s.i++
		if s.consume(']') {
			return nil
		}
		return errBadContext
	}
	if !s.consume('{') {
		return errBadContext
	}
	if s.consume('}') {
		return nil
	}
	for {
		name, err := s.str()
		if err != nil || !s.consume(':') {
			return errBadContext
		}
		if s.peek() == '[' {
			s.i++
			if !s.consume(']') {
				for {
					v, errV := s.scalar()
					if errV != nil {
						return errV
					}
					h.AddHeader(name, v)
					if s.consume(',') {
						continue
					}
					if s.consume(']') {
						break
					}
					return errBadContext
				}
			}
		} else {
			v, errV := s.scalar()
			if errV != nil {
				return errV
			}
			h.AddHeader(name, v)
		}
		if s.consume(',') {
			continue
		}
		if s.consume('}') {
			return nil
		}
		return errBadContext
	}
}

// scalar reads a string, or a number/bool literal as its text (PHP may encode 13 for "13").
func (s *jsonScanner) scalar() (string, error) {
	if s.peek() == '"' {
		return s.str()
	}
	start := s.i
	for s.i < len(s.b) && s.b[s.i] != ',' && s.b[s.i] != ']' && s.b[s.i] != '}' && s.b[s.i] > ' ' {
		s.i++
	}
	if start == s.i {
		return "", errBadContext
	}
	return b2s(s.b[start:s.i]), nil
}

// str reads a JSON string; without escapes it points into the payload instead of copying.
func (s *jsonScanner) str() (string, error) {
	if !s.consume('"') {
		return "", errBadContext
	}
	start := s.i
	for s.i < len(s.b) {
		switch s.b[s.i] {
		case '"':
			out := s.b[start:s.i]
			s.i++
			return b2s(out), nil
		case '\\':
			return s.strEscaped(start)
		}
		s.i++
	}
	return "", errBadContext
}

func (s *jsonScanner) strEscaped(start int) (string, error) {
	out := make([]byte, 0, s.i-start+16)
	out = append(out, s.b[start:s.i]...)
	for s.i < len(s.b) {
		c := s.b[s.i]
		switch {
		case c == '"':
			s.i++
			return string(out), nil
		case c != '\\':
			out = append(out, c)
			s.i++
			continue
		}
		if s.i+1 >= len(s.b) {
			return "", errBadContext
		}
		e := s.b[s.i+1]
		s.i += 2
		switch e {
		case '"', '\\', '/':
			out = append(out, e)
		case 'b':
			out = append(out, '\b')
		case 'f':
			out = append(out, '\f')
		case 'n':
			out = append(out, '\n')
		case 'r':
			out = append(out, '\r')
		case 't':
			out = append(out, '\t')
		case 'u':
			r, ok := s.hex4()
			if !ok {
				return "", errBadContext
			}
			if utf16.IsSurrogate(r) && s.i+1 < len(s.b) && s.b[s.i] == '\\' && s.b[s.i+1] == 'u' {
				s.i += 2
				lo, okLo := s.hex4()
				if !okLo {
					return "", errBadContext
				}
				if pair := utf16.DecodeRune(r, lo); pair != utf8.RuneError {
					r = pair
				} else {
					s.i -= 6 // not a pair: U+FFFD for r, as encoding/json does; the next escape stands alone
				}
			}
			out = utf8.AppendRune(out, r)
		default:
			return "", errBadContext
		}
	}
	return "", errBadContext
}

func (s *jsonScanner) hex4() (rune, bool) {
	if s.i+4 > len(s.b) {
		return 0, false
	}
	n, err := strconv.ParseUint(string(s.b[s.i:s.i+4]), 16, 32)
	if err != nil {
		return 0, false
	}
	s.i += 4
	return rune(n), true
}

// skipValue skips any JSON value (unknown keys are ignored, as Go's decoder does).
func (s *jsonScanner) skipValue() error {
	switch s.peek() {
	case '"':
		_, err := s.str()
		return err
	case '{', '[':
		depth := 0
		for s.i < len(s.b) {
			switch s.b[s.i] {
			case '{', '[':
				depth++
				s.i++
			case '}', ']':
				depth--
				s.i++
				if depth == 0 {
					return nil
				}
			case '"':
				if _, err := s.str(); err != nil {
					return err
				}
			default:
				s.i++
			}
		}
		return errBadContext
	default:
		_, err := s.scalar()
		return err
	}
}

// BodyAllowed reports whether a status may carry a body (RFC 9110).
func BodyAllowed(status int) bool {
	return !(status >= 100 && status < 200 || status == http.StatusNoContent || status == http.StatusNotModified)
}
