package schema

import "time"

// TimeLayout is the one format of every timestamp in every record from
// schema_version 2: RFC 3339 in UTC with exactly six fractional digits
// (microseconds) and a "Z", e.g. 2026-11-23T13:50:55.702784Z. Fixed-width,
// so fixed-format parsers and string comparison both work. Decoding accepts
// any RFC 3339 time (schema_version 1 wrote 0 to 9 digits).
const TimeLayout = "2006-01-02T15:04:05.000000Z"

// Precision is the resolution of record timestamps.
const Precision = time.Microsecond

// Truncate returns t in UTC at Precision, as a record stores it.
func Truncate(t time.Time) time.Time { return t.UTC().Truncate(Precision) }

// FormatTime formats t as records write it (TimeLayout).
func FormatTime(t time.Time) string { return t.UTC().Format(TimeLayout) }

// TruncatePtr is Truncate for an optional time (nil and the zero time give nil).
func TruncatePtr(t *time.Time) *time.Time {
	if t == nil || t.IsZero() {
		return nil
	}
	u := Truncate(*t)
	return &u
}
