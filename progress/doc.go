// Package progress reports how far a long job has come: events done, rate,
// and time to completion.
//
// A Reporter counts events (Add or Set) against a total that may be unknown
// (0) or learned later (SetTotal). While it runs it logs one line through
// log/slog every Interval:
//
//	level=INFO msg=progress task=audit_events events=45300 total=100000 percent=45.3 rate_per_sec=1234.5 eta=44s elapsed=37s
//
// and, when Output is a terminal (golang.org/x/term IsTerminal), it redraws a
// single-line bar there every RefreshInterval:
//
//	audit_events [=============>                ]  45.3%  45.3k/100.0k  1.2k/s  ETA 44s
//
// In span mode (Config.From and Config.To set) the work is a time range
// rather than a count: an audit backfill knows the window it must cover but
// not how many events it holds. The percentage and ETA then follow the cursor
// (SetCursor) while Add still counts events for the rate, and the log line
// adds cursor= and behind=.
//
// The rate is the average over the last RateWindow, so the ETA follows
// slow-downs (429 cool-downs, a slow broker) instead of the average since the
// start. Only one Reporter draws a bar at a time; others started while it
// runs only log, so parallel backfills never garble the terminal line.
//
// Typical use in a backfill:
//
//	p := progress.Start(progress.Config{Name: "audit_events", Total: total, Logger: log})
//	defer p.Stop()
//	for page := range pages {
//		publish(page)
//		p.Add(int64(len(page)))
//	}
//
// or, for a time-windowed backfill:
//
//	p := progress.Start(progress.Config{Name: "audit_events", From: checkpoint, To: now.Add(-lag), Logger: log})
//	defer p.Stop()
//	for batch := range batches {
//		publish(batch)
//		p.Add(int64(len(batch.Events)))
//		p.SetCursor(batch.MaxTimestamp)
//	}
//
// Log lines that other code writes to the terminal while a bar is drawn
// would be glued to the bar; write them through Writer (for example
// slog.NewTextHandler(progress.Writer(os.Stderr), nil)) and they appear
// above it instead.
//
// Always Stop a started Reporter: it ends its goroutine, finishes the bar
// line and releases the terminal for the next Reporter.
package progress
