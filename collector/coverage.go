package collector

import (
	"context"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/segmentio/kafka-go"

	"github.com/tokentrail/tokentrail/falcon"
	"github.com/tokentrail/tokentrail/schema"
)

// pollStats is what one poll collected, for its coverage record. Only the
// goroutine running poll touches it.
type pollStats struct {
	started          time.Time
	from             time.Time // start of the audit window: auditFrom when the poll began
	settingsSnapshot bool
	tokensSnapshot   bool
	tokens           int64
	auditOK          bool      // the window was read to its end
	auditTo          time.Time // end of the window read
	queryFrom        time.Time // start of the window queried (lookback included)
	apiTotal         int64     // meta.pagination.total of [Covered, auditTo), counted after the read
	published        int64
	publishedLate    int64
	errs             []string
}

// auditFrom is where this poll's audit window starts: where the last
// recorded one ended, else where the cursor is (a checkpoint written before
// coverage records), else the configured start.
func (w *worker) auditFrom() time.Time {
	st := &w.state.Audit
	switch {
	case !st.Covered.IsZero():
		return st.Covered
	case !st.Cursor.IsZero() && st.Cursor.After(st.Start):
		return st.Cursor.Truncate(time.Second)
	}
	return st.Start.Truncate(time.Second)
}

// countAudit asks the API how many events [from, to) holds: the
// meta.pagination.total of a one-ID query. It runs after the window was read,
// so an event becoming visible in between is counted here and published by
// the next poll's lookback, and the sum of the windows' totals stays equal
// to the events stored.
func (w *worker) countAudit(ctx context.Context, from, to time.Time) int64 {
	res, err := w.api.QueryAuditEvents(ctx, falcon.Query{Filter: auditFilter(from, to), Sort: falcon.DefaultAuditSort, Limit: 1})
	w.apiDone(err)
	if err != nil {
		w.stats.errs = append(w.stats.errs, "audit count: "+err.Error())
		return -1
	}
	return res.Total
}

// publishCoverage publishes the poll's coverage record and, once Kafka has
// it, moves the checkpoint's Covered to the end of the window read. A
// coverage record that cannot be published leaves Covered where it was: the
// next poll's window then includes this one's, and reports see no gap.
func (w *worker) publishCoverage(ctx context.Context) error {
	s := &w.stats
	from := s.from
	to := from
	if s.auditOK && s.auditTo.After(from) {
		to = s.auditTo
	}
	rec := &schema.Coverage{
		Envelope:    schema.NewEnvelope(schema.TypeCoverage, w.name, w.c.now()),
		PollStarted: s.started.UTC(), AuditTo: to.UTC(), APITotal: s.apiTotal,
		Published: s.published, PublishedLate: s.publishedLate,
		TokensSnapshot: s.tokensSnapshot, Tokens: s.tokens, SettingsSnapshot: s.settingsSnapshot,
		Failures: int64(len(s.errs)), Error: truncate(strings.Join(s.errs, "; "), maxCoverageError),
	}
	if !s.auditOK || to.Equal(from) {
		rec.APITotal = -1
		if s.auditOK {
			rec.APITotal = 0
		}
	}
	if !from.IsZero() {
		f := from.UTC()
		rec.AuditFrom = &f
	}
	if !s.queryFrom.IsZero() {
		q := s.queryFrom.UTC()
		rec.QueryFrom = &q
	} else if rec.AuditFrom != nil {
		rec.QueryFrom = rec.AuditFrom
	}
	m, err := Message(w.c.cfg.Topics.Coverage, rec)
	if err != nil {
		return err
	}
	pctx, stop := graceContext(ctx, w.c.cfg.ShutdownTimeout)
	defer stop()
	if err := w.publish(pctx, schema.TypeCoverage, []kafka.Message{m}); err != nil {
		return err
	}
	if to.After(from) {
		w.state.Audit.Covered = to.UTC()
		return w.commit(pctx)
	}
	return nil
}

// maxCoverageError bounds a coverage record's error text: enough to say
// what failed, not a log.
const maxCoverageError = 1000

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n] + "…"
}
