package sink

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/sethvargo/go-retry"
)

// flushLoop writes batches in order until full is closed or a flush fails.
func (p *pipeline) flushLoop(ctx context.Context) {
	for b := range p.full {
		if err := p.flush(ctx, b); err != nil {
			p.fail(err)
			for range p.full { // let the fetch loop hand off and stop
			}
			return
		}
		b.reset()
		p.free <- b
		select { // tell the drain watcher, if any, that offsets moved
		case p.committed <- struct{}{}:
		default:
		}
	}
}

// flush writes a batch's dead letters and rows, then commits its offsets.
func (p *pipeline) flush(ctx context.Context, b *batch) error {
	s := p.s
	start := time.Now()
	if err := s.writeDeadLetters(ctx, b.deadLetters); err != nil {
		return err
	}
	for i, t := range tables {
		n := t.rows(b)
		if n == 0 {
			continue
		}
		if err := s.insert(ctx, t, b); err != nil {
			return err
		}
		s.m.rowsInserted.WithLabelValues(t.name).Add(float64(n))
		s.stats.rows[i].Add(int64(n))
	}
	cctx, cancel := context.WithTimeout(ctx, s.cfg.CommitTimeout)
	defer cancel()
	if err := p.consumer.commit(cctx, b.commits); err != nil {
		// Typically a rebalance (ILLEGAL_GENERATION, REBALANCE_IN_PROGRESS):
		// the new owner re-reads from the last commit, and the tables' keys
		// absorb the repeats.
		s.m.commitErrors.Inc()
		s.log.Warn("offset commit failed; the batch will be delivered again and deduplicated", "records", b.records, "err", err)
	}
	s.m.inFlight.Sub(float64(b.records))
	s.m.batchRecords.Observe(float64(b.records))
	s.m.flushSeconds.Observe(time.Since(start).Seconds())
	s.log.Debug("flushed a batch", "records", b.records, "dead_letters", len(b.deadLetters),
		"partitions", len(b.commits), "took", time.Since(start))
	return nil
}

// insert writes one table's rows, retrying retryable errors with backoff
// from the rows in memory until they pass or ctx is done.
//
// After the stop signal (the context given to Run) the attempt in flight
// may finish, but no new one starts: the rows stay in Kafka, uncommitted,
// and the error wraps ErrStopped.
func (s *Sink) insert(ctx context.Context, t table, b *batch) error {
	backoff := retry.WithCappedDuration(s.cfg.RetryMax, retry.WithJitterPercent(10, retry.NewExponential(s.cfg.RetryMin)))
	attempt := 0
	var last error
	rctx, cancel := context.WithCancel(ctx)
	defer cancel()
	sig, _ := ctx.Value(stopSignalKey{}).(context.Context)
	unwatch := func() bool { return false }
	defer func() { unwatch() }()
	err := retry.Do(rctx, backoff, func(context.Context) error {
		err := s.insertOnce(ctx, t, b)
		s.insertFailing(err)
		if err == nil || !retryable(err) {
			return err
		}
		if attempt == 0 && sig != nil {
			// From now on the stop signal ends the wait for a retry.
			unwatch = context.AfterFunc(sig, cancel)
		}
		attempt++
		last = err
		s.m.retries.WithLabelValues("insert").Inc()
		s.log.Warn("insert failed; retrying", "table", t.name, "rows", t.rows(b), "attempt", attempt, "err", err)
		return retry.RetryableError(err)
	})
	if err == nil {
		if attempt > 0 {
			s.log.Info("ClickHouse recovered: insert succeeded", "table", t.name, "rows", t.rows(b), "failed_attempts", attempt)
		}
		return nil
	}
	if rctx.Err() != nil && ctx.Err() == nil {
		return fmt.Errorf("%w: %d records of this batch not written (%d rows for %s; last error: %v)", ErrStopped, b.records, t.rows(b), t.name, last)
	}
	if last != nil && !errors.Is(err, last) {
		return fmt.Errorf("sink: insert %d rows into %s: %w (after %d attempts; last: %v)", t.rows(b), t.name, err, attempt, last)
	}
	return fmt.Errorf("sink: insert %d rows into %s: %w", t.rows(b), t.name, err)
}

// insertOnce sends a table's rows as one INSERT in blocks of about
// s.budget.blockBytes: clickhouse-go copies rows into column buffers of its
// own, and sending them block by block (Flush) keeps that copy to a block,
// in buffers it reuses, instead of a whole batch in buffers grown anew for
// every insert. Into a plain table the server squashes the blocks of one
// INSERT into one part (up to min_insert_block_size_rows, far above a
// batch). A synchronous insert into a Distributed table is not squashed
// where it is received, but each shard's own insert of its share is: on
// the cluster test, a batch sent in four blocks left as many parts per
// shard as one sent whole.
func (s *Sink) insertOnce(ctx context.Context, t table, b *batch) error {
	bt, err := s.ch.PrepareBatch(syncInsert(ctx), t.query)
	if err != nil {
		return err
	}
	defer bt.Close()
	n, step := t.rows(b), s.budget.blockRows(b)
	for lo := 0; lo < n; lo += step {
		hi := min(lo+step, n)
		for i, v := range t.values(b, lo, hi) {
			if err := bt.Column(i).Append(v); err != nil {
				return fmt.Errorf("column %s: %w", t.columns[i], err)
			}
		}
		if hi < n {
			if err := bt.Flush(); err != nil {
				return err
			}
		}
	}
	return bt.Send()
}

// stopSignalKey holds, in the flush context, the context given to Run:
// its end stops retries.
type stopSignalKey struct{}

// ErrStopped: the sink was stopped while a batch could not be written. Its
// offsets are not committed: the records stay in Kafka and the next run
// reads them again, so nothing is lost.
var ErrStopped = errors.New("sink: stopped before ClickHouse accepted the batch; its records stay in Kafka for the next run")
