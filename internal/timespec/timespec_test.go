package timespec_test

import (
	"testing"
	"time"

	"github.com/tokentrail/tokentrail/internal/timespec"
)

func TestTime(t *testing.T) {
	now := time.Date(2025, 6, 10, 12, 0, 0, 0, time.UTC)
	for in, want := range map[string]time.Time{
		"now":                       now,
		"30d":                       now.Add(-30 * 24 * time.Hour),
		"2w":                        now.Add(-14 * 24 * time.Hour),
		"12h":                       now.Add(-12 * time.Hour),
		"1h30m":                     now.Add(-90 * time.Minute),
		"2025-06-01":                time.Date(2025, 6, 1, 0, 0, 0, 0, time.UTC),
		"2025-06-01 10:30":          time.Date(2025, 6, 1, 10, 30, 0, 0, time.UTC),
		"2025-06-01T10:30:05":       time.Date(2025, 6, 1, 10, 30, 5, 0, time.UTC),
		"2025-06-01T10:30:05Z":      time.Date(2025, 6, 1, 10, 30, 5, 0, time.UTC),
		"2025-06-01T12:30:05+02:00": time.Date(2025, 6, 1, 10, 30, 5, 0, time.UTC),
	} {
		got, err := timespec.Time(in, now)
		if err != nil || !got.Equal(want) {
			t.Errorf("Time(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	for _, bad := range []string{"", "yesterday", "-3d", "30x", "2025-13-01"} {
		if got, err := timespec.Time(bad, now); err == nil {
			t.Errorf("Time(%q) = %v, want an error", bad, got)
		}
	}
}
