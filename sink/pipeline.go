package sink

import (
	"context"
	"sync"
	"time"

	"github.com/segmentio/kafka-go"
)

// batches is how many batches circulate: one filling while the other is
// written. With the batches' byte bound (budget.batchBytes) it bounds what
// the sink holds ahead of ClickHouse.
const batches = 2

// pipeline is one Run or Drain. A fetch loop (fetcher, in the calling
// goroutine) fills batches and a flush loop (flushLoop, in another)
// writes them; they pass batches through full and free, so only two
// exist. Drain adds a drainWatcher, which stops the run once the group's
// committed offsets reach the end offsets seen at start.
type pipeline struct {
	s *Sink
	// consumer is replaced only by the fetch loop, and only once every
	// batch is back (waitFlushed), so the flush loop never commits on a
	// stale one.
	consumer *consumer

	free   chan *batch // flushed batches back to the fetch loop
	full   chan *batch // batches to flush
	spares []*batch    // free batches the fetch loop holds
	// committed is signalled (without blocking) after every commit.
	committed chan struct{}

	failOnce sync.Once
	failed   chan struct{} // closed on a fatal flush error
	err      error
	cancel   context.CancelFunc // stops fetching
}

// runPipeline consumes topics until ctx is done, a flush fails or, with a
// watcher, the watcher is satisfied.
func (s *Sink) runPipeline(ctx context.Context, client *kafka.Client, topics []string, w *drainWatcher, drainAt <-chan struct{}) error {
	fetchCtx, cancelFetch := context.WithCancel(ctx)
	defer cancelFetch()
	// The stop signal ends retries and starts the shutdown timeout: the end
	// of ctx, or the start of a drain that ends a run (RunThenDrain).
	stopSig := ctx
	if drainAt != nil {
		var cancelSig context.CancelFunc
		stopSig, cancelSig = context.WithCancel(ctx)
		defer cancelSig()
		go func() {
			select {
			case <-drainAt:
				cancelSig()
			case <-stopSig.Done():
			}
		}()
	}
	// Flushes outlive the stop signal by ShutdownTimeout, to write what was
	// fetched.
	workCtx, cancelWork := context.WithCancel(context.WithValue(context.WithoutCancel(ctx), stopSignalKey{}, stopSig))
	defer cancelWork()
	stop := context.AfterFunc(stopSig, func() { time.AfterFunc(s.cfg.ShutdownTimeout, cancelWork) })
	defer stop()

	c, err := s.newConsumer(topics)
	if err != nil {
		return err
	}
	p := &pipeline{s: s, consumer: c, cancel: cancelFetch,
		free: make(chan *batch, batches), full: make(chan *batch), committed: make(chan struct{}, 1),
		failed: make(chan struct{})}
	defer func() { p.consumer.close() }()
	for range batches {
		p.free <- &batch{}
	}
	go s.reportLag(fetchCtx, client, topics)
	flushed := make(chan struct{})
	go func() {
		defer close(flushed)
		p.flushLoop(workCtx)
	}()
	f := newFetcher(p, topics)
	if w != nil {
		watched := make(chan struct{})
		defer func() { <-watched }()
		go func() {
			defer close(watched)
			w.watch(fetchCtx, p.committed, cancelFetch)
		}()
		f.idle, f.rejoin = drainIdle, w.rejoin
		f.targets, f.unfetched = w.targets, len(w.targets)
	}
	if drainAt != nil {
		watched := make(chan struct{})
		defer func() { <-watched }()
		go func() {
			defer close(watched)
			s.drainFrom(fetchCtx, client, topics, drainAt, p.committed, cancelFetch)
		}()
	}
	err = f.loop(fetchCtx)
	cancelFetch() // ends the watchers whatever ended the loop
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

// handOff passes a non-empty batch to the flush loop and returns an empty
// one; err is set when a flush failed.
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

// handOffLast passes the last batch on stop; the flush loop writes it
// within the shutdown timeout.
func (p *pipeline) handOffLast(b *batch) {
	if b.records > 0 {
		select {
		case p.full <- b:
		case <-p.failed:
		}
	}
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

// drainFrom waits for drainAt, then stops the run (stop) once the group's
// committed offsets reach the end offsets the topics have then.
func (s *Sink) drainFrom(ctx context.Context, client *kafka.Client, topics []string, drainAt <-chan struct{},
	committed <-chan struct{}, stop context.CancelFunc) {
	select {
	case <-drainAt:
	case <-ctx.Done():
		return
	}
	targets, err := s.endOffsets(ctx, client, topics)
	switch {
	case ctx.Err() != nil:
		return
	case err != nil:
		// Without targets the run stops now: what was fetched is flushed,
		// the rest stays in Kafka behind the committed offsets.
		s.log.Warn("stopping without draining: reading the end offsets failed", "err", err)
		stop()
		return
	case len(targets) == 0:
		stop()
		return
	}
	s.log.Info("draining what was published before the stop", "partitions", len(targets))
	newDrainWatcher(s, client, targets).watch(ctx, committed, stop)
}
