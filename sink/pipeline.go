package sink

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/segmentio/kafka-go"
	"github.com/sethvargo/go-retry"
)

// batches is how many batches circulate: one filling while the other is
// written. It bounds memory to two batches plus the reader's queue.
const batches = 2

// idleTick is how often Drain checks the group's offsets when no record
// arrives.
const idleTick = 500 * time.Millisecond

type topicPartition struct {
	topic     string
	partition int
}

// partition is the fetch goroutine's state for one partition.
type partition struct {
	topicPartition
	wantType string // record type expected on this topic
	records  prometheus.Counter
	batch    *batch // the batch holding our commit entry,
	seq      uint64 // at this batch.seq,
	idx      int    // at this index of batch.commits
	target   int64  // Drain: end offset at start; -1 when not drained
	reached  bool
}

// pipeline runs one Run or Drain: the fetch loop in the calling goroutine,
// flushes in another.
type pipeline struct {
	s      *Sink
	reader *kafka.Reader
	client *kafka.Client // for offsets
	dec    *decoder
	once   bool
	topics []string

	parts map[topicPartition]*partition
	last  *partition

	// Drain state.
	targets    map[topicPartition]int64
	unreached  int       // partitions with a target not fetched up to it yet
	reachedAll bool      // set once when unreached drops to 0
	left       int64     // records the group has left to commit up to the targets
	progressAt time.Time // when left last changed, or the group was last joined
	loggedAt   time.Time // when drained last logged
	rejoins    int

	free   chan *batch // flushed batches back to the fetch loop
	full   chan *batch // batches to flush
	spares []*batch    // free batches the fetch loop holds

	failOnce sync.Once
	failed   chan struct{} // closed on a fatal flush error
	err      error
	cancel   context.CancelFunc // stops fetching
}

func (p *pipeline) run(ctx context.Context) error {
	fetchCtx, cancelFetch := context.WithCancel(ctx)
	defer cancelFetch()
	p.cancel = cancelFetch
	// Flushes outlive ctx by ShutdownTimeout, to write what was fetched.
	workCtx, cancelWork := context.WithCancel(context.WithValue(context.WithoutCancel(ctx), stopSignalKey{}, ctx))
	defer cancelWork()
	stop := context.AfterFunc(ctx, func() { time.AfterFunc(p.s.cfg.ShutdownTimeout, cancelWork) })
	defer stop()

	p.free, p.full, p.failed = make(chan *batch, batches), make(chan *batch), make(chan struct{})
	for range batches {
		p.free <- &batch{}
	}
	go p.s.reportLag(fetchCtx, p.client, p.topics)
	flushed := make(chan struct{})
	go func() {
		defer close(flushed)
		p.flushLoop(workCtx)
	}()
	err := p.fetchLoop(fetchCtx)
	close(p.full)
	<-flushed
	if p.err != nil {
		return p.err
	}
	return err
}

func (p *pipeline) fail(err error) {
	p.failOnce.Do(func() {
		p.err = err
		close(p.failed)
		p.cancel()
	})
}

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
	}
}

// fetchLoop fills batches and hands them off on size or age. It returns
// when ctx is done (stop or a failed flush) or, for Drain, once the group
// committed every target and the batches in flight are flushed.
func (p *pipeline) fetchLoop(ctx context.Context) error {
	s := p.s
	cur := <-p.free
	p.left, p.progressAt, p.loggedAt = -1, time.Now(), time.Now()
	var wait waiter // the current FetchMessage deadline
	defer wait.reset()
	fetchErrors := 0
	for {
		if wait.ctx == nil {
			switch {
			case cur.records > 0:
				wait.ctx, wait.cancel = context.WithDeadline(ctx, cur.started.Add(s.cfg.BatchAge))
			case p.once:
				wait.ctx, wait.cancel = context.WithTimeout(ctx, idleTick)
			default:
				wait.ctx = ctx
			}
		}
		msg, err := p.reader.FetchMessage(wait.ctx)
		if err != nil {
			wait.reset()
			switch {
			case ctx.Err() != nil:
				return p.handOffLast(cur)
			case errors.Is(err, context.DeadlineExceeded): // batch age or idle tick
				if cur, err = p.handOff(cur); err != nil {
					return nil
				}
				if p.once {
					if done, err := p.drainStep(ctx); done || err != nil {
						return nil
					}
				}
			case errors.Is(err, io.EOF):
				return fmt.Errorf("sink: Kafka reader closed: %w", err)
			default:
				d := min(100*time.Millisecond<<min(fetchErrors, 6), 5*time.Second)
				fetchErrors++
				s.m.retries.WithLabelValues("fetch").Inc()
				s.log.Warn("fetching from Kafka failed; retrying", "err", err, "in", d)
				select {
				case <-time.After(d):
				case <-ctx.Done():
				}
			}
			continue
		}
		fetchErrors = 0
		if cur.records == 0 {
			cur.started = time.Now()
			wait.reset() // from "wait for a record" to "wait until the batch is due"
		}
		p.add(cur, msg)
		if cur.records < s.cfg.BatchRows && !p.reachedAll {
			continue
		}
		wait.reset()
		reached := p.reachedAll
		p.reachedAll = false
		if cur, err = p.handOff(cur); err != nil {
			return nil
		}
		if !p.once {
			continue
		}
		if reached {
			// Every partition was fetched up to its target: the batch was
			// flushed early; its commit should complete the drain.
			if err := p.waitFlushed(); err != nil {
				return nil
			}
		}
		// Also after other flushes: partitions this member does not hold
		// are drained by the others.
		if done, err := p.drainStep(ctx); done || err != nil {
			return nil
		}
	}
}

// drainStep runs once the fetch loop handed off its batch (it holds an
// empty one): done when the group committed every target and the batches
// in flight are flushed. When the commits stalled, it rejoins the group:
// a member that died while joining can hold partitions in the group and
// never commit them (kfake keeps it until a rebalance; a broker would after
// its session timeout), and a new join makes the coordinator drop members
// that do not rejoin. An error means a flush failed (p.err).
func (p *pipeline) drainStep(ctx context.Context) (done bool, err error) {
	done, stalled := p.drained(ctx)
	switch {
	case done:
		return true, p.waitFlushed()
	case stalled:
		return false, p.rejoin()
	}
	return false, nil
}

// rejoin replaces the reader by a new member of the group, once the
// batches in flight are flushed and committed by the old one.
func (p *pipeline) rejoin() error {
	if err := p.waitFlushed(); err != nil {
		return err
	}
	p.rejoins++
	p.s.log.Info("draining: the group's committed offsets did not advance; rejoining the group",
		"group", p.s.cfg.Group, "for", time.Since(p.progressAt).Round(time.Millisecond), "records_left", p.left, "rejoins", p.rejoins)
	p.s.closeReader(p.reader)
	p.reader = p.s.newReader(p.topics, true)
	p.progressAt = time.Now()
	return nil
}

// waiter is a context for FetchMessage, replaced when what it waits for
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

// handOff passes a non-empty batch to the flush goroutine and returns an
// empty one; err is set when a flush failed or ctx is done.
func (p *pipeline) handOff(b *batch) (*batch, error) {
	if b.records == 0 {
		return b, nil
	}
	select {
	case p.full <- b:
	case <-p.failed:
		return nil, p.err
	}
	if n := len(p.spares); n > 0 {
		b, p.spares = p.spares[n-1], p.spares[:n-1]
		return b, nil
	}
	select {
	case b := <-p.free:
		return b, nil
	case <-p.failed:
		return nil, p.err
	}
}

// handOffLast passes the last batch on stop; the flush goroutine writes it
// within the shutdown timeout.
func (p *pipeline) handOffLast(b *batch) error {
	if b.records > 0 {
		select {
		case p.full <- b:
		case <-p.failed:
		}
	}
	return nil
}

// waitFlushed waits until every handed-off batch is flushed.
func (p *pipeline) waitFlushed() error {
	for len(p.spares)+1 < batches {
		select {
		case b := <-p.free:
			p.spares = append(p.spares, b)
		case <-p.failed:
			return p.err
		}
	}
	return nil
}

// add decodes one message into the batch, or makes it a dead letter.
func (p *pipeline) add(b *batch, msg kafka.Message) {
	ps := p.partition(msg.Topic, msg.Partition)
	ps.records.Inc()
	p.s.m.inFlight.Inc()
	p.s.stats.records.Add(1)
	if ps.batch != b || ps.seq != b.seq {
		ps.batch, ps.seq, ps.idx = b, b.seq, len(b.commits)
		b.commits = append(b.commits, kafka.Message{Topic: msg.Topic, Partition: msg.Partition, Offset: msg.Offset})
	} else if msg.Offset > b.commits[ps.idx].Offset {
		b.commits[ps.idx].Offset = msg.Offset
	}
	b.records++
	rec, err := p.dec.decode(msg.Value)
	if err == nil {
		if t := rec.Type(); t != ps.wantType {
			p.s.m.wrongTopic.WithLabelValues(msg.Topic, t).Inc()
		}
		err = b.add(rec)
	}
	if err != nil {
		p.s.log.Warn("dead-lettering a record", "topic", msg.Topic, "partition", msg.Partition, "offset", msg.Offset, "err", err)
		b.deadLetters = append(b.deadLetters, deadLetterFor(msg, err))
	}
	if ps.target >= 0 && !ps.reached && msg.Offset+1 >= ps.target {
		ps.reached = true
		if p.unreached--; p.unreached == 0 {
			p.reachedAll = true
		}
	}
}

func (p *pipeline) partition(topic string, part int) *partition {
	if l := p.last; l != nil && l.partition == part && l.topic == topic {
		return l
	}
	tp := topicPartition{topic, part}
	ps, ok := p.parts[tp]
	if !ok {
		m := p.s.m
		ps = &partition{topicPartition: tp, wantType: p.s.topicType[topic], target: -1,
			records: m.records.WithLabelValues(topic)}
		if t, ok := p.targets[tp]; ok {
			ps.target = t
		}
		p.parts[tp] = ps
	}
	p.last = ps
	return ps
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
	if err := p.reader.CommitMessages(cctx, b.commits...); err != nil {
		// Typically a rebalance ("io: read/write on closed pipe"): the new
		// owner re-reads from the last commit, and the tables' keys absorb
		// the repeats.
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

func (s *Sink) insertOnce(ctx context.Context, t table, b *batch) error {
	bt, err := s.ch.PrepareBatch(ctx, t.insertQuery())
	if err != nil {
		return err
	}
	defer bt.Close()
	for i, v := range t.values(b) {
		if err := bt.Column(i).Append(v); err != nil {
			return fmt.Errorf("column %s: %w", t.columns[i], err)
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
