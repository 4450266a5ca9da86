package schema

import (
	"encoding/binary"
	"math/bits"
	"time"
	"unicode/utf8"
)

// The scanner primitives of Decoder's fast path. Each refuses (ok false)
// what it cannot read exactly as encoding/json would.

func skipSpace(data []byte, i int) int {
	for i < len(data) && data[i] <= ' ' && (data[i] == ' ' || data[i] == '\t' || data[i] == '\n' || data[i] == '\r') {
		i++
	}
	return i
}

func isNull(data []byte, i int) bool {
	return len(data)-i >= 4 && string(data[i:i+4]) == "null"
}

// Masks for reading a string 8 bytes at a time (SWAR).
const (
	ones  = 0x0101010101010101
	highs = 0x8080808080808080
)

// special has the high bit of each byte of x (8 bytes of a string, the
// first in the low byte) that is a control character, the quote, the
// backslash or not ASCII (x itself marks those; for the others the
// subtractions set the high bit of a byte that is below 0x20 or equal to
// the quote or the backslash). Borrows can mark a byte after a special one,
// never one before it: the lowest marked byte is the first special one.
func special(x uint64) uint64 {
	q, bs := x^('"'*ones), x^('\\'*ones)
	return (x | (x - 0x20*ones) | (q - ones) | (bs - ones)) & highs
}

// scanString returns the contents of the string at data[i], refusing
// escapes, control characters and invalid UTF-8.
func scanString(data []byte, i int) ([]byte, int, bool) {
	if i >= len(data) || data[i] != '"' {
		return nil, i, false
	}
	j := i + 1
	for len(data)-j >= 8 {
		m := special(binary.LittleEndian.Uint64(data[j:]))
		if m != 0 {
			j += bits.TrailingZeros64(m) / 8
			goto found
		}
		j += 8
	}
	for j < len(data) && data[j] >= 0x20 && data[j] < 0x80 && data[j] != '"' && data[j] != '\\' {
		j++
	}
found:
	if j < len(data) && data[j] == '"' {
		return data[i+1 : j], j + 1, true
	}
	// A control character, a backslash or a non-ASCII byte: the first two
	// are refused below, the last is checked as UTF-8 with the whole string.
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

// scanTime reads the time at data[i] in UTC (what normalize does on the
// strict path); c remembers recent ones in the contract's layout.
func scanTime(c *timeCache, data []byte, i int, dst *time.Time) (int, bool) {
	// The contract's own layout, read without the general parser.
	if len(data)-i >= len(TimeLayout)+2 && data[i] == '"' && data[i+len(TimeLayout)+1] == '"' {
		if t, ok := c.parse(data[i+1 : i+1+len(TimeLayout)]); ok {
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
	*dst = dst.UTC()
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

// timeCache holds the last two times parseFixed read, by their text: a
// page of records shares its collected_at, and an audit event's event_time
// is its timestamp. The zero value is empty.
type timeCache struct {
	e [2]struct {
		text timeText
		t    time.Time
	}
	lru int // the entry used least recently, replaced next
}

// timeText is a time's len(TimeLayout) bytes in four words (the last two
// overlap), compared without a call.
type timeText [4]uint64

func textOf(b []byte) timeText {
	return timeText{binary.LittleEndian.Uint64(b), binary.LittleEndian.Uint64(b[8:]),
		binary.LittleEndian.Uint64(b[16:]), binary.LittleEndian.Uint64(b[len(TimeLayout)-8:])}
}

// parse is parseFixed(b) for a b of len(TimeLayout) bytes.
func (c *timeCache) parse(b []byte) (time.Time, bool) {
	text := textOf(b)
	// An entry's text starts with digits: an empty one, all zero,
	// matches only zero bytes, which are no time.
	for k := 0; k < len(c.e) && text[0] != 0; k++ {
		if e := &c.e[k]; e.text == text {
			c.lru = 1 - k
			return e.t, true
		}
	}
	t, ok := parseFixed(b)
	if ok {
		e := &c.e[c.lru]
		e.text, e.t = text, t
		c.lru = 1 - c.lru
	}
	return t, ok
}

// parseFixed parses TimeLayout (2006-01-02T15:04:05.000000Z) exactly; ok
// is false for anything else, including out-of-range fields, which the
// general parser then judges.
func parseFixed(b []byte) (time.Time, bool) {
	if len(b) != len(TimeLayout) || b[4] != '-' || b[7] != '-' || b[10] != 'T' || b[13] != ':' || b[16] != ':' || b[19] != '.' || b[26] != 'Z' {
		return time.Time{}, false
	}
	var bad byte // the high bit set by a byte that is not a digit
	digits := func(i, n int) int {
		v := 0
		for _, c := range b[i : i+n] {
			c -= '0'
			bad |= c | (c+0x76)&0x80 // c > 9 sets the high bit of c+0x76
			v = v*10 + int(c)
		}
		return v
	}
	y, mo, d := digits(0, 4), digits(5, 2), digits(8, 2)
	h, mi, s, us := digits(11, 2), digits(14, 2), digits(17, 2), digits(20, 6)
	if bad&0x80 != 0 || mo < 1 || mo > 12 || d < 1 || d > daysIn(mo, y) || h > 23 || mi > 59 || s > 59 {
		return time.Time{}, false
	}
	// Seconds since 1970 of the proleptic Gregorian date (the "days from
	// civil" algorithm, years from March so that the leap day comes last),
	// as time.Date would compute them but without its normalization.
	yy := y
	if mo <= 2 {
		yy--
	}
	era := yy
	if era < 0 {
		era -= 399
	}
	era /= 400
	yoe := yy - era*400
	mp := (mo + 9) % 12
	doy := (153*mp+2)/5 + d - 1
	doe := yoe*365 + yoe/4 - yoe/100 + doy
	days := era*146097 + doe - 719468
	return time.Unix(int64(days)*86400+int64(h*3600+mi*60+s), int64(us)*1000).UTC(), true
}

// daysIn is the number of days of month mo of year y.
func daysIn(mo, y int) int {
	switch mo {
	case 2:
		if y%4 == 0 && (y%100 != 0 || y%400 == 0) {
			return 29
		}
		return 28
	case 4, 6, 9, 11:
		return 30
	}
	return 31
}
