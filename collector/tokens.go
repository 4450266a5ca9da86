package collector

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/tokentrail/tokentrail/collector/checkpoint"
	"github.com/tokentrail/tokentrail/falcon"
	"github.com/tokentrail/tokentrail/schema"
)

// tokenChange is one token record due for publishing.
type tokenChange struct {
	id      string
	state   checkpoint.Token
	deleted bool
}

// collectTokens reads the whole token set and publishes a record for every
// token that is new, changed in any field, or gone. Tokens change in place
// and have no modification timestamp, so a snapshot diff is the only way;
// the previous snapshot is part of the checkpoint, so a restart does not
// re-publish unchanged tokens.
func (w *worker) collectTokens(ctx context.Context) error {
	started := w.c.now()
	listed, snap, err := w.snapshotTokens(ctx)
	w.apiDone(err)
	if err != nil {
		w.c.metrics.errors.WithLabelValues(w.name, "tokens").Inc()
		return err
	}
	w.stats.tokensSnapshot, w.stats.tokens = true, int64(len(snap))
	var changes []tokenChange
	for id, cur := range snap {
		if prev, ok := w.state.Tokens[id]; !ok || !prev.Equal(cur) {
			changes = append(changes, tokenChange{id: id, state: cur})
		}
	}
	for id, prev := range w.state.Tokens {
		// Only a token the query no longer lists is gone. One it listed but
		// tokens_read did not return (deleted in between, or a flaky read)
		// is settled by the next poll.
		if _, ok := listed[id]; !ok {
			changes = append(changes, tokenChange{id: id, state: prev, deleted: true})
		}
	}
	sort.Slice(changes, func(i, j int) bool { return changes[i].id < changes[j].id })
	w.c.metrics.collected.WithLabelValues(w.name, schema.TypeToken).Add(float64(len(changes)))

	pctx, stop := graceContext(ctx, w.c.cfg.ShutdownTimeout)
	defer stop()
	now := w.c.now()
	after, until := w.state.TokensSeenAt, w.state.TokensSeenUntil
	for len(changes) > 0 {
		n := min(len(changes), w.api.PagerConfig().PageLimit)
		batch := changes[:n]
		changes = changes[n:]
		msgs := make([]kafka.Message, 0, n)
		for _, ch := range batch {
			rec := TokenRecord(w.cid, w.name, now, ch.id, ch.state, ch.deleted)
			explain(&rec.Envelope, &rec.Change, w.events[ch.id], after, until)
			m, err := Message(w.c.cfg.Topics.Tokens, rec)
			if err != nil {
				return err
			}
			msgs = append(msgs, m)
		}
		if err := w.publish(pctx, schema.TypeToken, msgs); err != nil {
			return err
		}
		for _, ch := range batch {
			if ch.deleted {
				delete(w.state.Tokens, ch.id)
			} else {
				w.state.Tokens[ch.id] = ch.state
			}
		}
		if err := w.commit(pctx); err != nil {
			return err
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
	}
	// Every token now matches this snapshot, unless tokens_read left some
	// listed token out (settled by the next poll, which must not take this
	// snapshot as its bound). Saved with the next commit; until then the
	// older bound stays correct.
	if len(snap) == len(listed) {
		w.state.TokensSeenAt, w.state.TokensSeenUntil = started, now
	}
	return nil
}

// snapshotTokens lists every token ID (tokens_query) and reads them
// (tokens_read) page by page. When more tokens exist than the offset cap
// lets a query page through, it continues in a new window from the newest
// created_timestamp read so far (keyset paging, as for audit events).
func (w *worker) snapshotTokens(ctx context.Context) (listed map[string]struct{}, snap map[string]checkpoint.Token, err error) {
	listed = map[string]struct{}{}
	snap = map[string]checkpoint.Token{}
	var lower time.Time
	for {
		filter := ""
		if !lower.IsZero() {
			filter = "created_timestamp:>=" + falcon.FQLTime(lower)
		}
		pc := w.api.PagerConfig()
		p := falcon.NewPager(w.api.QueryTokens, falcon.Query{Filter: filter, Sort: "created_timestamp.asc", Limit: pc.PageLimit}, pc)
		windowMax := lower
		for p.Next(ctx) {
			var fresh []string
			for _, id := range p.IDs() {
				if _, ok := listed[id]; !ok {
					listed[id] = struct{}{}
					fresh = append(fresh, id)
				}
			}
			if len(fresh) == 0 {
				continue
			}
			toks, err := w.api.GetTokens(ctx, fresh)
			if err != nil {
				return nil, nil, fmt.Errorf("tokens_read of %d IDs: %w", len(fresh), err)
			}
			for _, t := range toks {
				if schema.CheckID("id", t.ID) != nil {
					w.c.metrics.errors.WithLabelValues(w.name, "invalid").Inc()
					w.log.Error("skipping a token with an invalid id", "id_len", len(t.ID))
					continue
				}
				snap[t.ID] = TokenState(w.c.cfg.FingerprintKey, t)
				if t.CreatedTimestamp.After(windowMax) {
					windowMax = t.CreatedTimestamp
				}
			}
		}
		err := p.Err()
		if err == nil {
			return listed, snap, nil
		}
		if !errors.Is(err, falcon.ErrOffsetCap) {
			return nil, nil, fmt.Errorf("tokens_query: %w", err)
		}
		if !windowMax.After(lower) {
			return nil, nil, fmt.Errorf("tokens_query: more tokens share created_timestamp %s than the offset cap %d can page",
				lower.Format(time.RFC3339Nano), w.api.PagerConfig().OffsetCap)
		}
		lower = windowMax
	}
}
