package schema

import (
	"bytes"
	"encoding/json"
	"fmt"
	"reflect"
	"testing"
	"time"
	"unicode/utf8"
)

// scanString reads 8 bytes at a time: every kind of byte at every position
// of strings up to three words long must give encoding/json's answer, or a
// refusal for what the scanner leaves to it (escapes).
func TestScanStringEveryPosition(t *testing.T) {
	kinds := [][]byte{{'"'}, {'\\'}, {'\\', '"'}, {0x00}, {0x1f}, {0x20}, {0x7e}, {0x7f}, {0x80}, {0xff},
		[]byte("é"), []byte("€"), {0xe2, 0x82}, {'"', '"'}}
	for n := 0; n <= 24; n++ {
		for p := 0; p <= n; p++ {
			for _, k := range kinds {
				body := append(append(bytes.Repeat([]byte{'a'}, p), k...), bytes.Repeat([]byte{'b'}, n-p)...)
				for _, tail := range []string{`"`, `",1`, ``} {
					data := append(append([]byte{'"'}, body...), tail...)
					s, next, ok := scanString(data, 0)
					if !ok {
						if end := bytes.IndexByte(data[1:], '"'); end >= 0 {
							raw := data[1 : 1+end]
							if !bytes.ContainsAny(raw, "\\") && utf8.Valid(raw) && !hasControl(raw) {
								t.Errorf("scanString(%q) refused a plain string", data)
							}
						}
						continue
					}
					var want string
					if err := json.Unmarshal(data[:next], &want); err != nil {
						t.Errorf("scanString(%q) = %q, but encoding/json: %v", data, s, err)
					} else if string(s) != want {
						t.Errorf("scanString(%q) = %q, encoding/json %q", data, s, want)
					}
				}
			}
		}
	}
}

func hasControl(b []byte) bool {
	for _, c := range b {
		if c < 0x20 {
			return true
		}
	}
	return false
}

// parseFixed computes the date itself: every day of years around the
// calendar's edge cases, and days that do not exist, must give what
// time.Parse gives.
func TestParseFixedMatchesTimeParse(t *testing.T) {
	for _, y := range []int{0, 1, 4, 99, 100, 400, 1600, 1899, 1900, 1969, 1970, 1972, 2000, 2024, 2025, 2026, 2100, 2106, 2400, 9999} {
		for mo := 1; mo <= 13; mo++ {
			for d := 0; d <= 32; d++ {
				for _, clock := range []string{"00:00:00.000000", "23:59:59.999999", "13:04:05.000123", "24:00:00.000000", "12:60:00.000000", "12:00:60.000000"} {
					s := fmt.Sprintf("%04d-%02d-%02dT%sZ", y, mo, d, clock)
					got, ok := parseFixed([]byte(s))
					want, err := time.Parse(time.RFC3339Nano, s)
					if ok != (err == nil) || ok && !reflect.DeepEqual(got, want.UTC()) {
						t.Fatalf("parseFixed(%s) = %v, %v; time.Parse = %v, %v", s, got, ok, want, err)
					}
				}
			}
		}
	}
	for _, s := range []string{"2026-01-02T03:04:05.00000aZ", "2026-01-02T03:04:05.0000/0Z", "2026-01-02T03:04:05.000000+", "2026-01-0 T03:04:05.000000Z", "+026-01-02T03:04:05.000000Z"} {
		if got, ok := parseFixed([]byte(s)); ok {
			t.Errorf("parseFixed(%s) = %v, want a refusal", s, got)
		}
	}
}
