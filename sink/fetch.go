package sink

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/sethvargo/go-retry"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/tokentrail/tokentrail/schema"
)

// drainIdle is how long Drain's fetch loop waits for another record before
// it hands off a partial batch: a drain wants its last records written now,
// not BatchAge later.
const drainIdle = 50 * time.Millisecond

type topicPartition struct {
	topic     string
	partition int
}

// partition is the fetch loop's state for one partition.
type partition struct {
	topicPartition
	wantType string // record type expected on this topic
	records  prometheus.Counter
	fetched  int    // records taken since the last publish
	batch    *batch // the batch holding our commit entry,
	seq      uint64 // at this batch.seq,
	idx      int    // at this index of batch.commits
	// target is, in a drain, the end offset seen at start until a record
	// reaches it, then 0.
	target int64
}

// fetcher is the fetch loop: it reads messages, decodes them into the
// current batch and hands the batch off when it holds BatchRows records or
// the budget's bytes, or is BatchAge old.
type fetcher struct {
	p      *pipeline
	topics []string
	dec    schema.Decoder
	parts  map[topicPartition]*partition
	last   *partition
	// pending are the records of the last poll; next is the first not
	// taken.
	pending []*kgo.Record
	next    int

	rows, bytes int
	age         time.Duration
	// idle, when set, hands off a batch when no record arrived for that
	// long (Drain).
	idle time.Duration
	// rejoin asks for a new group member once the batches in flight are
	// flushed (Drain, when the group's commits stall).
	rejoin <-chan struct{}
	// targets are Drain's end offsets; unfetched counts those no record
	// reached yet. The record that reaches the last one ends its batch at
	// once, without waiting idle for records that will not come.
	targets   map[topicPartition]int64
	unfetched int

	// dirty are the partitions with records taken since the metrics were
	// last published (publish).
	dirty []*partition
}

func newFetcher(p *pipeline, topics []string) *fetcher {
	return &fetcher{p: p, topics: topics, parts: map[topicPartition]*partition{},
		dec:  schema.Decoder{Reuse: true}, // add copies a record into the batch's columns
		rows: p.s.cfg.BatchRows, bytes: p.s.budget.batchBytes, age: p.s.cfg.BatchAge}
}

// loop fills batches until ctx is done (stop, a failed flush, or a drain
// watcher satisfied), then hands off the last one.
func (f *fetcher) loop(ctx context.Context) error {
	p := f.p
	cur := <-p.free
	var wait waiter // the current poll deadline
	defer wait.reset()
	seen := 0 // records in cur when the idle wait started
	for {
		if wait.ctx == nil {
			var deadline time.Time
			if cur.records > 0 {
				deadline = cur.started.Add(f.age)
			}
			if f.idle > 0 {
				if d := time.Now().Add(f.idle); deadline.IsZero() || d.Before(deadline) {
					deadline = d
				}
				seen = cur.records
			}
			if deadline.IsZero() {
				wait.ctx = ctx
			} else {
				wait.ctx, wait.cancel = context.WithDeadline(ctx, deadline)
			}
		}
		rec, err := f.fetch(ctx, wait.ctx)
		if err != nil {
			wait.reset()
			switch {
			case ctx.Err() != nil:
				p.handOffLast(cur)
				return nil
			case errors.Is(err, context.DeadlineExceeded): // batch age or idle
				due := cur.records > 0 && !time.Now().Before(cur.started.Add(f.age))
				if !due && cur.records > seen {
					continue // records still arrive
				}
				if cur, err = p.handOff(cur); err != nil {
					return nil // the flush error is the run's
				}
				if err := f.maybeRejoin(); err != nil {
					return err
				}
				continue
			case errors.Is(err, errClosed):
				return err
			default:
				return fmt.Errorf("sink: fetch from Kafka: %w", err)
			}
		}
		if cur.records == 0 {
			cur.started = time.Now()
			if f.idle == 0 {
				wait.reset() // from "wait for a record" to "wait until the batch is due"
			}
		}
		last := f.add(cur, rec)
		if cur.records < f.rows && cur.bytes < f.bytes && !last {
			continue
		}
		wait.reset()
		f.publish()
		if cur, err = p.handOff(cur); err != nil {
			return nil
		}
		if err := f.maybeRejoin(); err != nil {
			return err
		}
	}
}

// fetch returns the next record, polling when the last poll's are taken.
// Kafka errors are retried with backoff (go-retry) until they pass or ctx
// is done; wait's deadline ends a poll without an error of Kafka's.
func (f *fetcher) fetch(ctx, wait context.Context) (*kgo.Record, error) {
	for f.next == len(f.pending) {
		f.publish()
		f.dropPending()
		var err error
		f.pending, err = f.p.consumer.poll(wait, f.pending)
		if !final(ctx, err) {
			s := f.p.s
			attempt := 0
			backoff := retry.WithCappedDuration(5*time.Second, retry.NewExponential(100*time.Millisecond))
			err = retry.Do(ctx, backoff, func(context.Context) error {
				attempt++
				s.m.retries.WithLabelValues("fetch").Inc()
				s.log.Warn("fetching from Kafka failed; retrying", "err", err, "attempt", attempt)
				if f.pending, err = f.p.consumer.poll(wait, f.pending); final(ctx, err) {
					return err
				}
				return retry.RetryableError(err)
			})
		}
		if err != nil {
			return nil, err
		}
	}
	r := f.pending[f.next]
	f.next++
	return r, nil
}

// dropPending lets the last poll's records, and their fetched buffers, go.
func (f *fetcher) dropPending() {
	clear(f.pending)
	f.pending, f.next = f.pending[:0], 0
}

// final reports whether a poll error is not Kafka's to retry.
func final(ctx context.Context, err error) bool {
	return err == nil || ctx.Err() != nil || errors.Is(err, context.DeadlineExceeded) || errors.Is(err, errClosed)
}

// maybeRejoin replaces the consumer by a new member of the group when the
// drain watcher asked for it, once the batches in flight are flushed and
// committed by the old one. It runs after a hand-off, when the fetch loop
// holds an empty batch. Its error is a failed flush (also the run's) or a
// consumer that could not be made.
func (f *fetcher) maybeRejoin() error {
	select {
	case <-f.rejoin:
	default:
		return nil
	}
	p := f.p
	if err := p.waitFlushed(); err != nil {
		return err
	}
	p.consumer.close()
	f.dropPending() // fetched by the old member
	c, err := p.s.newConsumer(f.topics)
	if err != nil {
		return err
	}
	p.consumer = c
	return nil
}

// waiter is a context for a poll, replaced when what it waits for
// changes.
type waiter struct {
	ctx    context.Context
	cancel context.CancelFunc
}

func (w *waiter) reset() {
	if w.cancel != nil {
		w.cancel()
	}
	*w = waiter{}
}

// add decodes one record into the batch, or makes it a dead letter. It
// reports whether the record reached the last of the drain's targets.
func (f *fetcher) add(b *batch, r *kgo.Record) (last bool) {
	s := f.p.s
	ps := f.partition(r.Topic, int(r.Partition))
	if ps.target > 0 && r.Offset+1 >= ps.target {
		ps.target = 0
		f.unfetched--
		last = f.unfetched == 0
	}
	if ps.fetched == 0 {
		f.dirty = append(f.dirty, ps)
	}
	ps.fetched++
	if ps.batch != b || ps.seq != b.seq {
		ps.batch, ps.seq, ps.idx = b, b.seq, len(b.commits)
		b.commits = append(b.commits, offset{topic: r.Topic, partition: r.Partition, offset: r.Offset})
	} else if r.Offset > b.commits[ps.idx].offset {
		b.commits[ps.idx].offset = r.Offset
	}
	b.records++
	b.bytes += len(r.Value)
	rec, err := f.dec.Decode(r.Value)
	if err == nil {
		if t := rec.Type(); t != ps.wantType {
			s.m.wrongTopic.WithLabelValues(r.Topic, t).Inc()
		}
		err = b.add(rec)
	}
	if err != nil {
		s.log.Warn("dead-lettering a record", "topic", r.Topic, "partition", r.Partition, "offset", r.Offset, "err", err)
		b.deadLetters = append(b.deadLetters, deadLetterFor(r, err))
	}
	return last
}

// publish adds the records taken since it last ran to the metrics and
// Stats. It runs before every poll and hand-off, when the fetch loop may
// wait: they are exact whenever it is not running through a poll's
// records, at three atomic operations a poll instead of a record.
func (f *fetcher) publish() {
	n := 0
	for _, ps := range f.dirty {
		ps.records.Add(float64(ps.fetched))
		n += ps.fetched
		ps.fetched = 0
	}
	clear(f.dirty)
	f.dirty = f.dirty[:0]
	if n > 0 {
		f.p.s.m.inFlight.Add(float64(n))
		f.p.s.stats.records.Add(int64(n))
	}
}

func (f *fetcher) partition(topic string, part int) *partition {
	if l := f.last; l != nil && l.partition == part && l.topic == topic {
		return l
	}
	tp := topicPartition{topic, part}
	ps, ok := f.parts[tp]
	if !ok {
		ps = &partition{topicPartition: tp, wantType: f.p.s.topicType[topic],
			records: f.p.s.m.records.WithLabelValues(topic), target: f.targets[tp]}
		f.parts[tp] = ps
	}
	f.last = ps
	return ps
}
