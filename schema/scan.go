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

// plain marks the bytes a string holds as they are: printable ASCII but the
// quote and the backslash.
var plain = func() (t [256]bool) {
	for c := 0x20; c < 0x7f; c++ {
		t[c] = c != '"' && c != '\\'
	}
	return t
}()

// scanString returns the contents of the string at data[i], refusing
// escapes, control characters and invalid UTF-8.
func scanString(data []byte, i int) ([]byte, int, bool) {
	if i >= len(data) || data[i] != '"' {
		return nil, i, false
	}
	j := i + 1
	for j < len(data) && plain[data[j]] {
		j++
	}
	if j < len(data) && data[j] == '"' {
		return data[i+1 : j], j + 1, true
	}
	ascii := true
	for ; j < len(data); j++ {
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
	// The contract's own layout, read without the general parser.
	if len(data)-i >= len(TimeLayout)+2 && data[i+len(TimeLayout)+1] == '"' {
		if t, ok := parseFixed(data[i+1 : i+1+len(TimeLayout)]); ok {
			*dst = t
			return i + len(TimeLayout) + 2, true
		}
	}
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

// parseFixed parses TimeLayout (2006-01-02T15:04:05.000000Z) exactly; ok
// is false for anything else, including out-of-range fields, which the
// general parser then judges.
func parseFixed(b []byte) (time.Time, bool) {
	if b[4] != '-' || b[7] != '-' || b[10] != 'T' || b[13] != ':' || b[16] != ':' || b[19] != '.' || b[26] != 'Z' {
		return time.Time{}, false
	}
	num := func(b []byte) (int, bool) {
		n := 0
		for _, c := range b {
			if c < '0' || c > '9' {
				return 0, false
			}
			n = n*10 + int(c-'0')
		}
		return n, true
	}
	y, ok1 := num(b[0:4])
	mo, ok2 := num(b[5:7])
	d, ok3 := num(b[8:10])
	h, ok4 := num(b[11:13])
	mi, ok5 := num(b[14:16])
	s, ok6 := num(b[17:19])
	us, ok7 := num(b[20:26])
	if !(ok1 && ok2 && ok3 && ok4 && ok5 && ok6 && ok7) || mo < 1 || mo > 12 || d < 1 || h > 23 || mi > 59 || s > 59 {
		return time.Time{}, false
	}
	t := time.Date(y, time.Month(mo), d, h, mi, s, us*1000, time.UTC)
	if t.Day() != d { // February 30th and the like
		return time.Time{}, false
	}
	return t, true
}
