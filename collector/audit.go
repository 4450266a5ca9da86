package collector

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/segmentio/kafka-go"
	"github.com/sethvargo/go-retry"

	"github.com/tokentrail/tokentrail/falcon"
	"github.com/tokentrail/tokentrail/schema"
)

// auditBatch is one query page's worth of new audit events, ready to
// publish. maxTS is the newest timestamp of the page, counting IDs skipped
// because they were already published: once the batch is acknowledged,
// every event of the window sorted before maxTS has been published.
type auditBatch struct {
	msgs     []kafka.Message
	ids      []string
	ts       []time.Time
	tokenIDs []string
	maxTS    time.Time
}

// collectAudit exports audit events with timestamps in
// [max(start, cursor-lookback), upper), the time-window (keyset) paging of
// the API contract (§6):
//
//   - query timestamp:>='L'+timestamp:<'U' sorted by timestamp.asc and walk
//     its offsets while they stay within the offset cap;
//   - read the IDs not published yet (the checkpoint remembers every ID
//     published in the lookback, which includes the ties at the cursor) and
//     publish them ordered by (timestamp, id);
//   - when the cap stops a window with matches left, start a new window at
//     the newest timestamp reached. Ties at that instant come back and are
//     skipped by ID; if a whole window shares one instant, no window can
//     pass it and the poll fails with ErrTieGroupTooLarge.
//
// A fetch goroutine reads page k+1 while page k is published; after each
// batch is acknowledged the cursor advances and the checkpoint is committed.
func (w *worker) collectAudit(ctx context.Context, upper time.Time) error {
	st := &w.state.Audit
	lower := st.Cursor.Add(-w.c.cfg.Lookback)
	if st.Cursor.IsZero() || lower.Before(st.Start) {
		lower = st.Start
	}
	w.stats.queryFrom, w.stats.auditTo = lower.Truncate(time.Second), upper.Truncate(time.Second)
	if !upper.After(lower) {
		w.stats.auditOK = true
		return nil
	}
	// The fetcher's own view of what is published or about to be: the
	// committed IDs plus those of batches in flight.
	known := make(map[string]time.Time, len(st.Recent))
	for id, ts := range st.Recent {
		known[id] = ts
	}
	prog := newProgress(w, upper)

	fctx, cancelFetch := context.WithCancel(ctx)
	defer cancelFetch()
	batches := make(chan auditBatch, 1)
	fetchErr := make(chan error, 1)
	go func() {
		defer close(batches)
		fetchErr <- w.fetchAudit(fctx, lower, upper, known, batches)
	}()

	pctx, stop := graceContext(ctx, w.c.cfg.ShutdownTimeout)
	defer stop()
	var perr error
	for b := range batches {
		if perr != nil {
			continue // drain so the fetcher can exit
		}
		if perr = w.commitAudit(pctx, b); perr != nil {
			cancelFetch()
			continue
		}
		prog.batch(len(b.ids), w.state.Audit.Cursor)
	}
	ferr := <-fetchErr
	prog.done(w.state.Audit.Cursor)
	if perr != nil {
		return perr
	}
	if ferr != nil && !errors.Is(ferr, context.Canceled) {
		w.c.metrics.errors.WithLabelValues(w.name, "audit").Inc()
	}
	if ferr == nil && ctx.Err() == nil {
		w.stats.auditOK = true
		w.stats.apiTotal = w.countAudit(ctx, w.stats.from, upper)
	}
	return ferr
}

// commitAudit publishes a batch, then advances the cursor and commits.
func (w *worker) commitAudit(ctx context.Context, b auditBatch) error {
	if err := w.publish(ctx, schema.TypeAuditEvent, b.msgs); err != nil {
		return err
	}
	w.stats.published += int64(len(b.msgs))
	for _, ts := range b.ts {
		if ts.Before(w.stats.from) {
			w.stats.publishedLate++
		}
	}
	st := &w.state.Audit
	before := st.Cursor
	for i, id := range b.ids {
		st.Recent[id] = b.ts[i]
		w.noteEvent(b.tokenIDs[i], id, b.ts[i])
	}
	if b.maxTS.After(st.Cursor) {
		st.Cursor = b.maxTS
	}
	st.Prune(w.c.cfg.Lookback)
	if len(b.msgs) == 0 && st.Cursor.Equal(before) {
		return nil
	}
	if err := w.commit(ctx); err != nil {
		return err
	}
	w.cursor.Store(st.Cursor.UnixNano())
	return nil
}

// tieError reports a tie group the offset cap cannot page through.
type tieError struct {
	at  time.Time
	cap int
}

func (e *tieError) Error() string {
	return fmt.Sprintf("%v: more than %d events at %s; raise the offset cap if the API allows deeper offsets",
		ErrTieGroupTooLarge, e.cap, e.at.Format(time.RFC3339Nano))
}

func (e *tieError) Unwrap() error { return ErrTieGroupTooLarge }

func auditFilter(lower, upper time.Time) string {
	var lo string
	if !lower.IsZero() {
		// FQLTime drops the fraction: the bound stays inclusive and
		// de-duplication by ID absorbs the overlap.
		lo = "timestamp:>=" + falcon.FQLTime(lower)
	}
	return falcon.FQLAnd(lo, "timestamp:<"+falcon.FQLTime(upper))
}

// fetchAudit walks windows from lower to upper and sends one batch per page.
func (w *worker) fetchAudit(ctx context.Context, lower, upper time.Time, known map[string]time.Time, out chan<- auditBatch) error {
	pc := w.api.PagerConfig()
	for {
		p := falcon.NewPager(w.api.QueryAuditEvents, falcon.Query{Filter: auditFilter(lower, upper), Sort: falcon.DefaultAuditSort,
			Limit: pc.PageLimit}, pc)
		windowMax := lower
		for p.Next(ctx) {
			w.apiDone(nil)
			b, err := w.fetchPage(ctx, p.IDs(), known)
			if err != nil {
				return err
			}
			if b.maxTS.After(windowMax) {
				windowMax = b.maxTS
			}
			if len(b.ids) == 0 {
				// A re-read page with nothing new. Its IDs are committed
				// or in a batch ahead, whose commit moves the cursor.
				continue
			}
			select {
			case out <- b:
			case <-ctx.Done():
				return ctx.Err()
			}
		}
		err := p.Err()
		if err == nil {
			return nil
		}
		if !errors.Is(err, falcon.ErrOffsetCap) {
			w.apiDone(err)
			return fmt.Errorf("audit_events_query %s: %w", auditFilter(lower, upper), err)
		}
		if !windowMax.After(lower) {
			return &tieError{at: lower, cap: pc.OffsetCap}
		}
		w.log.Debug("offset cap reached; new window", "from", windowMax, "previous_from", lower)
		lower = windowMax
		// The next window starts at lower's second: older IDs cannot come
		// back.
		floor := lower.Truncate(time.Second)
		for id, ts := range known {
			if ts.Before(floor) {
				delete(known, id)
			}
		}
	}
}

// fetchPage reads the page's unpublished IDs and builds their records.
func (w *worker) fetchPage(ctx context.Context, ids []string, known map[string]time.Time) (auditBatch, error) {
	var b auditBatch
	fresh := make([]string, 0, len(ids))
	inPage := make(map[string]struct{}, len(ids))
	for _, id := range ids {
		if ts, ok := known[id]; ok {
			if ts.After(b.maxTS) {
				b.maxTS = ts
			}
			continue
		}
		if _, dup := inPage[id]; dup {
			continue
		}
		inPage[id] = struct{}{}
		fresh = append(fresh, id)
	}
	if len(fresh) == 0 {
		return b, nil
	}
	events, err := w.readAudit(ctx, fresh)
	if err != nil {
		return b, err
	}
	sort.Slice(events, func(i, j int) bool {
		if !events[i].Timestamp.Equal(events[j].Timestamp) {
			return events[i].Timestamp.Before(events[j].Timestamp)
		}
		return events[i].ID < events[j].ID
	})
	now := w.c.now()
	b.msgs = make([]kafka.Message, 0, len(events))
	b.ids = make([]string, 0, len(events))
	b.ts = make([]time.Time, 0, len(events))
	b.tokenIDs = make([]string, 0, len(events))
	for _, e := range events {
		if _, asked := inPage[e.ID]; !asked {
			continue // an ID we did not ask for
		}
		delete(inPage, e.ID) // duplicates in a response
		if schema.CheckID("id", e.ID) != nil || e.Timestamp.IsZero() {
			w.c.metrics.errors.WithLabelValues(w.name, "invalid").Inc()
			w.log.Error("skipping an audit event the API sent without a usable id or timestamp", "id", safeID(e.ID), "timestamp", e.Timestamp)
			continue
		}
		m, err := Message(w.c.cfg.Topics.AuditEvents, AuditRecord(w.cid, w.name, now, e))
		if err != nil {
			return b, err
		}
		ts := e.Timestamp.UTC()
		known[e.ID] = ts
		b.msgs = append(b.msgs, m)
		b.ids = append(b.ids, e.ID)
		b.ts = append(b.ts, ts)
		b.tokenIDs = append(b.tokenIDs, e.TokenID)
		if ts.After(b.maxTS) {
			b.maxTS = ts
		}
	}
	w.c.metrics.collected.WithLabelValues(w.name, schema.TypeAuditEvent).Add(float64(len(b.msgs)))
	return b, nil
}

// readAudit reads ids with audit_events_read. IDs the API leaves out are
// asked for again (ReadRetries times, with backoff): an event the query
// listed exists, and the cursor must not pass it unread.
func (w *worker) readAudit(ctx context.Context, ids []string) ([]falcon.AuditEvent, error) {
	var out []falcon.AuditEvent
	want := ids
	b := retry.WithMaxRetries(uint64(w.c.cfg.ReadRetries), retry.NewExponential(500*time.Millisecond))
	err := retry.Do(ctx, b, func(ctx context.Context) error {
		evs, err := w.api.GetAuditEvents(ctx, want)
		w.apiDone(err)
		if err != nil {
			return fmt.Errorf("audit_events_read of %d IDs: %w", len(want), err)
		}
		out = append(out, evs...)
		missing := falcon.Missing(want, evs)
		if len(missing) == 0 {
			return nil
		}
		want = missing
		return retry.RetryableError(fmt.Errorf("%w: %d of them, e.g. %s", ErrUnreadEvents, len(missing), strings.Join(missing[:min(3, len(missing))], ", ")))
	})
	return out, err
}

// safeID renders an invalid id for a log line without flooding it.
func safeID(id string) string {
	if len(id) > 80 {
		return fmt.Sprintf("%q...", id[:80])
	}
	return fmt.Sprintf("%q", id)
}

// noteEvent remembers the newest audit event the poll saw about a token
// ("" for settings events), to explain the changes its snapshots find.
func (w *worker) noteEvent(tokenID, id string, at time.Time) {
	if w.events == nil {
		w.events = map[string]auditRef{}
	}
	if prev, ok := w.events[tokenID]; !ok || at.After(prev.at) {
		w.events[tokenID] = auditRef{id: id, at: at}
	}
}

// peekAudit reads the audit events the settle lag keeps from this poll
// (timestamp >= upper) without publishing them or moving the cursor: they
// explain the changes the snapshots find now (a change is usually younger
// than the settle lag when the next snapshot sees it); the next polls
// publish them as usual. It is best effort: on an error the records fall
// back to the snapshot's bounds.
func (w *worker) peekAudit(ctx context.Context, upper time.Time) error {
	pc := w.api.PagerConfig()
	p := falcon.NewPager(w.api.QueryAuditEvents, falcon.Query{Filter: "timestamp:>=" + falcon.FQLTime(upper),
		Sort: falcon.DefaultAuditSort, Limit: pc.PageLimit}, pc)
	for p.Next(ctx) {
		evs, err := w.api.GetAuditEvents(ctx, p.IDs())
		w.apiDone(err)
		if err != nil {
			w.log.Warn("could not read recent audit events; changes get snapshot times", "err", err)
			return nil
		}
		for _, e := range evs {
			if schema.CheckID("id", e.ID) == nil && !e.Timestamp.IsZero() {
				w.noteEvent(e.TokenID, e.ID, e.Timestamp)
			}
		}
	}
	if err := p.Err(); err != nil && !errors.Is(err, falcon.ErrOffsetCap) && ctx.Err() == nil {
		w.log.Warn("could not query recent audit events; changes get snapshot times", "err", err)
	}
	return nil
}
