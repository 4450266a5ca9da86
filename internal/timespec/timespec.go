package timespec

import (
	"errors"
	"regexp"
	"strconv"
	"strings"
	"time"
)

var (
	relativeRe = regexp.MustCompile(`^(\d{1,6})([smhdw])$`)
	units      = map[string]time.Duration{"s": time.Second, "m": time.Minute, "h": time.Hour,
		"d": 24 * time.Hour, "w": 7 * 24 * time.Hour}
	layouts = []string{time.DateOnly, "2006-01-02 15:04", time.DateTime, "2006-01-02T15:04",
		"2006-01-02T15:04:05", time.RFC3339Nano}
)

// Forms describes what Time accepts, for error messages and help.
const Forms = "now, a time ago such as 30d, 12h or 2w, a date 2006-01-02, 2006-01-02 15:04[:05] (UTC) or RFC 3339"

// ErrSyntax is wrapped by every error of Time and Duration.
var ErrSyntax = errors.New("timespec: bad syntax")

// Time parses s as "now", an age before now (45s, 90m, 12h, 30d, 2w, or a
// Go duration such as 1h30m), a date (UTC), a date and time without zone
// (UTC) or an RFC 3339 time. The result is in UTC.
func Time(s string, now time.Time) (time.Time, error) {
	s = strings.TrimSpace(s)
	if s == "now" {
		return now.UTC(), nil
	}
	for _, layout := range layouts {
		if t, err := time.Parse(layout, s); err == nil {
			return t.UTC(), nil
		}
	}
	if d, err := Duration(s); err == nil {
		return now.Add(-d).UTC(), nil
	}
	return time.Time{}, errors.Join(ErrSyntax, errors.New("want "+Forms))
}

// Duration parses 45s, 90m, 12h, 30d, 2w or a Go duration (1h30m); it
// must not be negative.
func Duration(s string) (time.Duration, error) {
	s = strings.TrimSpace(s)
	if m := relativeRe.FindStringSubmatch(s); m != nil {
		n, _ := strconv.Atoi(m[1])
		return time.Duration(n) * units[m[2]], nil
	}
	d, err := time.ParseDuration(s)
	if err != nil || d < 0 {
		return 0, errors.Join(ErrSyntax, errors.New("want a duration such as 45s, 90m, 12h, 30d, 2w or 1h30m"))
	}
	return d, nil
}
