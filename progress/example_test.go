package progress_test

import (
	"fmt"
	"log/slog"
	"os"
	"time"

	"github.com/tokentrail/tokentrail/progress"
)

// A backfill reports its progress while it pages through audit events. The
// fixed clock and the logger without timestamps keep this example's output
// stable; real callers set neither Now nor Bar and get a bar on a terminal.
func Example() {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	log := slog.New(slog.NewTextHandler(os.Stdout, &slog.HandlerOptions{
		ReplaceAttr: func(_ []string, a slog.Attr) slog.Attr {
			if a.Key == slog.TimeKey {
				return slog.Attr{}
			}
			return a
		},
	}))

	p := progress.Start(progress.Config{
		Name:   "audit_events",
		Total:  25000, // from meta.pagination.total; 0 if unknown
		Logger: log,
		Bar:    progress.BarOff,
		Now:    func() time.Time { return now },
	})
	for page := 0; page < 10; page++ {
		now = now.Add(time.Second) // one page of 1000 events a second
		p.Add(1000)
	}
	final := p.Stop()
	fmt.Println(final.Line(20))
	// Output:
	// level=INFO msg="progress end" task=audit_events events=10000 total=25000 percent=40 rate_per_sec=1000 eta=15s elapsed=10s avg_rate_per_sec=1000
	// audit_events [========>           ]  40.0%  10.0k/25.0k  1.0k/s  ETA 15s
}

// Snapshot.Line renders the bar for any output, e.g. a status page.
func ExampleSnapshot_Line() {
	s := progress.Snapshot{Name: "tokens", Unit: "events", Events: 750, Total: 1000, Rate: 25, ETA: 10 * time.Second, ETAKnown: true}
	fmt.Println(s.Line(10))
	// Output: tokens [=======>  ]  75.0%  750/1.0k  25/s  ETA 10s
}

// In span mode the percentage and ETA follow a time cursor: how far a
// backfill has walked from its checkpoint towards now.
func ExampleReporter_SetCursor() {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	from := now.Add(-30 * 24 * time.Hour) // the checkpoint: 30 days behind
	p := progress.New(progress.Config{
		Name: "audit_events",
		From: from,
		To:   now,
		Now:  func() time.Time { return now },
	})
	for day := 0; day < 6; day++ {
		now = now.Add(2 * time.Second) // two seconds of work per day of events
		p.Add(1500)
		p.SetCursor(from.Add(time.Duration(day+1) * 24 * time.Hour))
	}
	fmt.Println(p.Snapshot().Line(20))
	// Output: audit_events [====>               ]  20.0%  9.0k events  750/s  ETA 48s
}
