package protocol

import (
	"unicode/utf8"
)

// Hand-written JSON appenders for the request path: the request context has a fixed shape, so
// writing it directly into a reused buffer beats reflection-based encoders on time and
// allocations.

const hexDigits = "0123456789abcdef"

// AppendJSONString appends s as a JSON string. Invalid UTF-8 becomes U+FFFD (PHP's json_decode
// rejects invalid UTF-8, which would lose the whole request).
func AppendJSONString(dst []byte, s string) []byte {
	dst = append(dst, '"')
	dst = AppendJSONEscaped(dst, s)
	return append(dst, '"')
}

// AppendJSONEscaped appends the escaped content of a JSON string, without the quotes.
func AppendJSONEscaped(dst []byte, s string) []byte {
	start := 0
	for i := 0; i < len(s); {
		b := s[i]
		if b < utf8.RuneSelf {
			if b >= 0x20 && b != '"' && b != '\\' {
				i++
				continue
			}
			dst = append(dst, s[start:i]...)
			switch b {
			case '"', '\\':
				dst = append(dst, '\\', b)
			case '\n':
				dst = append(dst, '\\', 'n')
			case '\r':
				dst = append(dst, '\\', 'r')
			case '\t':
				dst = append(dst, '\\', 't')
			default:
				dst = append(dst, '\\', 'u', '0', '0', hexDigits[b>>4], hexDigits[b&0xF])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			dst = append(dst, s[start:i]...)
			dst = append(dst, `\ufffd`...)
			i += size
			start = i
			continue
		}
		i += size
	}
	return append(dst, s[start:]...)
}

// appendJSONStrings appends a JSON array of strings.
func appendJSONStrings(dst []byte, values []string) []byte {
	dst = append(dst, '[')
	for i, v := range values {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = AppendJSONString(dst, v)
	}
	return append(dst, ']')
}

// appendJSONValue appends the values that form and upload trees hold.
func appendJSONValue(dst []byte, v any) []byte {
	switch t := v.(type) {
	case string:
		return AppendJSONString(dst, t)
	case []string:
		return appendJSONStrings(dst, t)
	case DataTree:
		return AppendJSONObject(dst, t)
	case *FileUpload:
		return t.AppendJSON(dst)
	case []*FileUpload:
		dst = append(dst, '[')
		for i, f := range t {
			if i > 0 {
				dst = append(dst, ',')
			}
			dst = f.AppendJSON(dst)
		}
		return append(dst, ']')
	case nil:
		return append(dst, "null"...)
	default:
		return append(dst, "null"...)
	}
}

// AppendJSONObject appends a form or uploads tree as a JSON object.
func AppendJSONObject(dst []byte, tree DataTree) []byte {
	dst = append(dst, '{')
	first := true
	for k, v := range tree {
		if !first {
			dst = append(dst, ',')
		}
		first = false
		dst = AppendJSONString(dst, k)
		dst = append(dst, ':')
		dst = appendJSONValue(dst, v)
	}
	return append(dst, '}')
}
