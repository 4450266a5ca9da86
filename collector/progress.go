package collector

import (
	"time"

	tprogress "github.com/tokentrail/tokentrail/progress"
)

// backfillSpan is how far behind a poll must start for its audit read to
// count as a backfill worth progress reporting; routine polls stay quiet.
const backfillSpan = time.Hour

// progress reports a long audit backfill through the progress package: a
// log line every ProgressInterval (events, rate, cursor, ETA) and a bar
// when stderr is a terminal. The ETA follows the cursor through the time
// still to cover, so it needs no event count.
type progress struct {
	w      *worker
	upper  time.Time
	from   time.Time // cursor at start
	events int
	r      *tprogress.Reporter // nil until the read proves to be a backfill
}

func newProgress(w *worker, upper time.Time) *progress {
	return &progress{w: w, upper: upper, from: w.state.Audit.Cursor}
}

func (p *progress) batch(n int, cursor time.Time) {
	if p.from.IsZero() {
		p.from = cursor // first run with --start-time all: the span starts at the first event
	}
	p.events += n
	if p.r == nil && p.w.c.cfg.ProgressInterval > 0 && p.upper.Sub(p.from) >= backfillSpan {
		p.r = tprogress.Start(tprogress.Config{Name: "audit_events", From: p.from, To: p.upper,
			Logger: p.w.log, Interval: p.w.c.cfg.ProgressInterval})
	}
	if p.r != nil {
		p.r.Add(int64(n))
		p.r.SetCursor(cursor)
	}
}

func (p *progress) done(cursor time.Time) {
	if p.r != nil {
		p.r.Stop() // logs the final line
	} else if p.events > 0 {
		p.w.log.Debug("audit events published", "events", p.events, "cursor", cursor.Format(time.RFC3339))
	}
}
