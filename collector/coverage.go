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

// PollCoverage is what one poll collected (see schema.Coverage). A zero
// AuditFrom or QueryFrom is the beginning of the audit trail; APITotal is -1
// when unknown.
type PollCoverage struct {
	Started, AuditFrom, AuditTo, QueryFrom time.Time
	APITotal, Published, PublishedLate     int64
	TokensSnapshot, SettingsSnapshot       bool
	Tokens                                 int64
	Errors                                 []string
}

// CoverageRecord builds the coverage record of a poll, times at the
// contract's precision.
func CoverageRecord(cid, tenant string, collectedAt time.Time, p PollCoverage) *schema.Coverage {
	opt := func(t time.Time) *time.Time {
		if t.IsZero() {
			return nil
		}
		u := schema.Truncate(t)
		return &u
	}
	return &schema.Coverage{
		Envelope:    schema.NewEnvelope(schema.TypeCoverage, cid, tenant, collectedAt),
		PollStarted: schema.Truncate(p.Started), AuditFrom: opt(p.AuditFrom), AuditTo: schema.Truncate(p.AuditTo),
		QueryFrom: opt(p.QueryFrom), APITotal: p.APITotal, Published: p.Published, PublishedLate: p.PublishedLate,
		TokensSnapshot: p.TokensSnapshot, Tokens: p.Tokens, SettingsSnapshot: p.SettingsSnapshot,
		Failures: int64(len(p.Errors)), Error: truncate(strings.Join(p.Errors, "; "), maxCoverageError),
	}
}

// publishCoverage publishes the poll's coverage record and, once Kafka has
// it, moves the checkpoint's Covered to the end of the window read. A
// coverage record that cannot be published leaves Covered where it was: the
// next poll's window then includes this one's, and reports see no gap.
func (w *worker) publishCoverage(ctx context.Context) error {
	if w.cid == "" {
		// The CID lookup failed: no record can name its tenant's CID. The
		// missing poll shows as a gap in the next record's coverage.
		return nil
	}
	s := &w.stats
	from := s.from
	to := from
	if s.auditOK && s.auditTo.After(from) {
		to = s.auditTo
	}
	p := PollCoverage{Started: s.started, AuditFrom: from, AuditTo: to, QueryFrom: s.queryFrom, APITotal: s.apiTotal,
		Published: s.published, PublishedLate: s.publishedLate, TokensSnapshot: s.tokensSnapshot, Tokens: s.tokens,
		SettingsSnapshot: s.settingsSnapshot, Errors: s.errs}
	switch {
	case !s.auditOK:
		p.APITotal = -1
	case !to.After(from):
		p.APITotal = 0
	}
	if p.QueryFrom.IsZero() {
		p.QueryFrom = from
	}
	m, err := Message(schema.TopicCoverage, CoverageRecord(w.cid, w.name, w.c.now(), p))
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
