package timespec_test

import (
	"fmt"
	"time"

	"github.com/tokentrail/tokentrail/internal/timespec"
)

func ExampleTime() {
	now := time.Date(2025, 6, 30, 12, 0, 0, 0, time.UTC)
	for _, s := range []string{"2w", "36h", "2025-06-01", "2025-06-01 08:30", "2025-06-01T08:30:00+02:00"} {
		t, _ := timespec.Time(s, now)
		fmt.Println(s, "=>", t.Format(time.RFC3339))
	}
	// Output:
	// 2w => 2025-06-16T12:00:00Z
	// 36h => 2025-06-29T00:00:00Z
	// 2025-06-01 => 2025-06-01T00:00:00Z
	// 2025-06-01 08:30 => 2025-06-01T08:30:00Z
	// 2025-06-01T08:30:00+02:00 => 2025-06-01T06:30:00Z
}
