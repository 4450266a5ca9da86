package schema

import (
	"time"
	"unicode/utf8"
)

// The scanner primitives of Decoder's fast path. Each refuses (ok false)
// what it cannot read exactly as encoding/json would.

func skipSpace(data []byte, i int) int {
	for i < len(data) {
		switch data[i] {
		case ' ', '\t', '\n', '\r':
			i++
		default:
			return i
		}
	}
	return i
}

func isNull(data []byte, i int) bool {
	return len(data)-i >= 4 && string(data[i:i+4]) == "null"
}

// scanString returns the contents of the string at data[i], refusing
// escapes, control characters and invalid UTF-8.
func scanString(data []byte, i int) ([]byte, int, bool) {
	if i >= len(data) || data[i] != '"' {
		return nil, i, false
	}
	ascii := true
	for j := i + 1; j < len(data); j++ {
		c := data[j]
		switch {
		case c == '"':
			s := data[i+1 : j]
			if !ascii && !utf8.Valid(s) {
				return nil, i, false
			}
			return s, j + 1, true
		case c == '\\' || c < 0x20:
			return nil, i, false
		case c >= 0x80:
			ascii = false
		}
	}
	return nil, i, false
}

func scanTime(data []byte, i int, dst *time.Time) (int, bool) {
	_, next, ok := scanString(data, i)
	if !ok {
		return i, false
	}
	// The quoted literal, as encoding/json hands it to UnmarshalJSON.
	if err := dst.UnmarshalJSON(data[i:next]); err != nil {
		return i, false
	}
	return next, true
}

func scanBool(data []byte, i int, dst *bool) (int, bool) {
	switch {
	case isNull(data, i):
		return i + 4, true
	case len(data)-i >= 4 && string(data[i:i+4]) == "true":
		*dst = true
		return i + 4, true
	case len(data)-i >= 5 && string(data[i:i+5]) == "false":
		*dst = false
		return i + 5, true
	}
	return i, false
}

// scanInt parses an integer of at most 18 digits (no overflow possible);
// anything longer or with a fraction or exponent goes to encoding/json.
func scanInt(data []byte, i int, dst *int64) (int, bool) {
	j, neg := i, false
	if j < len(data) && data[j] == '-' {
		neg = true
		j++
	}
	start := j
	var n int64
	for j < len(data) && data[j] >= '0' && data[j] <= '9' {
		n = n*10 + int64(data[j]-'0')
		j++
	}
	digits := j - start
	if digits == 0 || digits > 18 || digits > 1 && data[start] == '0' {
		return i, false
	}
	if j < len(data) && (data[j] == '.' || data[j] == 'e' || data[j] == 'E') {
		return i, false
	}
	if neg {
		n = -n
	}
	*dst = n
	return j, true
}
