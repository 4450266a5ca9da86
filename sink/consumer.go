package sink

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/tokentrail/tokentrail/kafkaconn"
)

// consumer is one member of the sink's consumer group: a franz-go client
// that fetches the topics and commits only what the flush loop tells it to.
//
// The sink consumes with franz-go rather than kafka-go's Reader, which the
// rest of the project uses: the Reader hands records over one by one
// through a channel, sets a read deadline per record and copies every
// value: about 1.1 CPU-seconds per million records more than franz-go
// (BenchmarkSinkConsumerClients), some 40% of what the sink spent; franz-go
// hands over whole fetches, with values pointing into the fetched (or
// decompressed) buffers.
type consumer struct {
	cl        *kgo.Client
	sizer     *fetchSizer
	log       *slog.Logger
	closeOnce sync.Once
}

// offset is a partition's last record to commit.
type offset struct {
	topic     string
	partition int32
	offset    int64 // of the record; the commit is offset+1
}

// newConsumer joins the group for topics. Nothing is committed but what
// commit is given; a partition the group never committed starts at its
// first offset.
func (s *Sink) newConsumer(topics []string) (*consumer, error) {
	opts, err := s.cfg.Kafka.ClientOpts()
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrConfig, err)
	}
	sizer := newFetchSizer(s.budget)
	opts = append(opts,
		kgo.ConsumerGroup(s.cfg.Group),
		kgo.ConsumeTopics(topics...),
		kgo.DisableAutoCommit(),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		// The balancers of kafka-go's Reader, in its order: members of
		// both kinds can share the group during an upgrade.
		kgo.Balancers(kgo.RangeBalancer(), kgo.RoundRobinBalancer()),
		kgo.SessionTimeout(s.cfg.SessionTimeout),
		kgo.HeartbeatInterval(s.cfg.HeartbeatInterval),
		kgo.RebalanceTimeout(s.cfg.RebalanceTimeout),
		kgo.FetchMaxWait(s.cfg.FetchMaxWait),
		kgo.FetchMaxBytes(sizer.initial(len(s.cfg.Kafka.Brokers))),
		kgo.FetchMaxPartitionBytes(sizer.current),
		// New partitions join the assignment within this long.
		kgo.MetadataMaxAge(10*time.Second),
		kgo.WithHooks(sizer, connectHook{failed: s.m.retries.WithLabelValues("fetch")}),
		kgo.WithLogger(kafkaconn.ClientLogger(s.log, time.Minute)),
	)
	cl, err := kgo.NewClient(opts...)
	if err != nil {
		return nil, fmt.Errorf("sink: Kafka client for group %s: %w", s.cfg.Group, err)
	}
	return &consumer{cl: cl, sizer: sizer, log: s.log}, nil
}

// connectHook counts failed connections to the brokers: franz-go retries
// fetches itself, reconnecting with backoff, and does not return those
// errors from a poll.
type connectHook struct{ failed prometheus.Counter }

// OnBrokerConnect implements kgo.HookBrokerConnect.
func (h connectHook) OnBrokerConnect(_ kgo.BrokerMetadata, _ time.Duration, _ net.Conn, err error) {
	if err != nil {
		h.failed.Inc()
	}
}

// errClosed: the consumer was closed while polling.
var errClosed = errors.New("sink: Kafka consumer closed")

// poll appends to dst every record fetched so far, waiting until there is
// one or ctx is done (then it returns ctx's error). Records are never
// dropped: a poll that brought any returns them without error, and logs
// the errors of other partitions. Fetch errors that came without records
// are returned joined; franz-go retries the fetches itself, so they are
// worth a log line and a pause, not a stop.
func (c *consumer) poll(ctx context.Context, dst []*kgo.Record) ([]*kgo.Record, error) {
	fs := c.cl.PollFetches(ctx)
	n := len(dst)
	fs.EachRecord(func(r *kgo.Record) { dst = append(dst, r) })
	c.sizer.adjust(c.cl)
	var closed, done bool
	var errs []error
	for _, fe := range fs.Errors() {
		switch {
		case errors.Is(fe.Err, kgo.ErrClientClosed):
			closed = true
		case (errors.Is(fe.Err, context.Canceled) || errors.Is(fe.Err, context.DeadlineExceeded)) && ctx.Err() != nil:
			done = true
		default:
			errs = append(errs, fmt.Errorf("%s/%d: %w", fe.Topic, fe.Partition, fe.Err))
		}
	}
	switch {
	case len(dst) > n:
		if len(errs) > 0 {
			c.log.Warn("fetching from Kafka failed for some partitions", "err", errors.Join(errs...))
		}
		return dst, nil
	case closed:
		return dst, errClosed
	case done:
		return dst, ctx.Err()
	}
	return dst, errors.Join(errs...)
}

// commit commits the offsets after each partition's last record. A
// partition the broker refuses (typically a rebalance moved it) is an
// error; the others are committed.
func (c *consumer) commit(ctx context.Context, offs []offset) error {
	m := map[string]map[int32]kgo.EpochOffset{}
	for _, o := range offs {
		if m[o.topic] == nil {
			m[o.topic] = map[int32]kgo.EpochOffset{}
		}
		m[o.topic][o.partition] = kgo.EpochOffset{Epoch: -1, Offset: o.offset + 1}
	}
	var err error
	c.cl.CommitOffsetsSync(ctx, m, func(_ *kgo.Client, _ *kmsg.OffsetCommitRequest, resp *kmsg.OffsetCommitResponse, e error) {
		if e != nil {
			err = e
			return
		}
		var errs []error
		for _, t := range resp.Topics {
			for _, p := range t.Partitions {
				if e := kerr.ErrorForCode(p.ErrorCode); e != nil {
					errs = append(errs, fmt.Errorf("%s/%d: %w", t.Topic, p.Partition, e))
				}
			}
		}
		err = errors.Join(errs...)
	})
	return err
}

// close leaves the group; later calls do nothing.
func (c *consumer) close() { c.closeOnce.Do(c.cl.Close) }

// fetchSizer sizes fetch requests so that one round of fetches, one per
// broker, decodes to about budget.fetchBytes whatever the producer's
// compression and however many brokers there are: the brokers cap a fetch
// by its bytes on the wire, and franz-go decompresses a whole fetch when
// it arrives (a zstd batch of JSON records is 10–30 times smaller than its
// records). It watches the batches read (a kgo hook) and, after each poll,
// asks each broker for fetchBytes divided by the number of brokers and by
// the ratio seen so far. A batch larger than the request is still fetched
// whole, as Kafka requires.
//
// franz-go keeps one fetch per broker in flight or buffered until polled,
// and a poll takes them all, so the records fetched are the round the
// fetch loop works through plus the next one: 2 × fetchBytes. (Capping the
// fetches in flight instead, with MaxConcurrentFetches, would let brokers
// that lead only idle partitions hold the slots for FetchMaxWait while
// another has records: TestSink/DrainFromThreeBrokers took 0.13 s, and
// 1.1 s with MaxConcurrentFetches(2) patched in.)
type fetchSizer struct {
	target        int64
	wire, decoded atomic.Int64 // bytes of the batches read, on the wire and decoded
	current       int32
}

// recordOverhead is what franz-go holds per record besides its key and
// value (its Record struct).
const recordOverhead = 200

func newFetchSizer(b budget) *fetchSizer {
	return &fetchSizer{target: int64(b.fetchBytes)}
}

// initial is the first request's size, for the seed brokers' count:
// fetchBytes assuming 32-fold compression until batches are seen, so a
// first round of compressed records decodes to about fetchBytes, and one
// of uncompressed records is smaller.
func (z *fetchSizer) initial(brokers int) int32 {
	z.current = int32(max(z.target/32/int64(max(brokers, 1)), minFetchBytes))
	return z.current
}

// minFetchBytes is the smallest fetch requested.
const minFetchBytes = 64 << 10

// OnFetchBatchRead implements kgo.HookFetchBatchRead.
func (z *fetchSizer) OnFetchBatchRead(_ kgo.BrokerMetadata, _ string, _ int32, m kgo.FetchBatchMetrics) {
	z.wire.Add(int64(m.CompressedBytes))
	z.decoded.Add(int64(m.UncompressedBytes + m.NumRecords*recordOverhead))
}

// adjust sets the request size from the ratio seen so far and the brokers
// the client knows.
func (z *fetchSizer) adjust(cl *kgo.Client) {
	if size, changed := z.next(len(cl.DiscoveredBrokers())); changed {
		cl.UpdateFetchMaxBytes(size, size)
	}
}

// next is the request size for the ratio seen so far and a number of
// brokers, and whether it differs from the current one by more than an
// eighth (a request size is not worth an atomic store per poll).
func (z *fetchSizer) next(brokers int) (int32, bool) {
	wire, decoded := z.wire.Load(), z.decoded.Load()
	if wire == 0 || decoded == 0 {
		return z.current, false
	}
	perBroker := z.target / int64(max(brokers, 1))
	size := int32(min(max(perBroker*wire/decoded, minFetchBytes), perBroker))
	if d := size - z.current; d <= z.current/8 && -d <= z.current/8 {
		return z.current, false
	}
	z.current = size
	return size, true
}
