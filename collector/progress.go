package collector

import (
	"time"

	tprogress "github.com/tokentrail/tokentrail/progress"
)

// barSpan is how far behind a poll must start for its audit read to count
// as a backfill worth a terminal progress bar.
const barSpan = time.Hour

// progress logs a long audit backfill: events published, rate and ETA. The
// ETA divides the time still to cover (upper - cursor) by the speed at
// which the cursor has been moving, so it needs no event count.
type progress struct {
	w          *worker
	upper      time.Time
	start      time.Time
	from       time.Time // cursor at start
	lastLog    time.Time
	events     int
	sinceLast  int
	logged     bool
	intervalOK bool
	// bar draws a progress bar on a terminal stderr during a backfill; the
	// log lines above stay the record of progress.
	bar *tprogress.Reporter
}

func newProgress(w *worker, upper time.Time) *progress {
	now := time.Now()
	return &progress{w: w, upper: upper, start: now, lastLog: now, from: w.state.Audit.Cursor,
		intervalOK: w.c.cfg.ProgressInterval > 0}
}

func (p *progress) batch(n int, cursor time.Time) {
	if p.from.IsZero() && p.events == 0 {
		p.from, p.start = cursor, time.Now() // first run with --start-time all
	}
	p.events += n
	p.sinceLast += n
	if p.bar == nil && p.intervalOK && p.upper.Sub(p.from) >= barSpan {
		p.bar = tprogress.Start(tprogress.Config{Name: "audit_events " + p.w.name, From: p.from, To: p.upper,
			Logger: p.w.log, Interval: -1})
	}
	if p.bar != nil {
		p.bar.Add(int64(n))
		p.bar.SetCursor(cursor)
	}
	if !p.intervalOK {
		return
	}
	now := time.Now()
	if now.Sub(p.lastLog) < p.w.c.cfg.ProgressInterval {
		return
	}
	elapsed := now.Sub(p.start)
	rate := float64(p.sinceLast) / now.Sub(p.lastLog).Seconds()
	args := []any{"events", p.events, "rate_per_s", int(rate + 0.5), "cursor", cursor.Format(time.RFC3339), "behind", p.upper.Sub(cursor).Round(time.Second).String()}
	if covered := cursor.Sub(p.from); covered > 0 {
		speed := float64(covered) / float64(elapsed) // event-time per wall-time
		eta := time.Duration(float64(p.upper.Sub(cursor)) / speed)
		args = append(args, "eta", eta.Round(time.Second).String())
	}
	p.w.log.Info("audit backfill progress", args...)
	p.lastLog, p.sinceLast, p.logged = now, 0, true
}

func (p *progress) done(cursor time.Time) {
	if p.bar != nil {
		p.bar.Stop()
	}
	if p.logged {
		elapsed := time.Since(p.start)
		p.w.log.Info("audit backfill caught up", "events", p.events, "elapsed", elapsed.Round(time.Millisecond).String(),
			"rate_per_s", int(float64(p.events)/elapsed.Seconds()+0.5), "cursor", cursor.Format(time.RFC3339))
	} else if p.events > 0 {
		p.w.log.Debug("audit events published", "events", p.events, "cursor", cursor.Format(time.RFC3339))
	}
}
