package sink

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/tokentrail/tokentrail/schema"
)

func TestConfigDefaultsAndErrors(t *testing.T) {
	cfg := DefaultConfiguration()
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	if cfg.Group != "tokentrail-sink" || cfg.BatchRows != 100_000 || cfg.BatchAge != 2*time.Second || cfg.Topics != DefaultTopics() {
		t.Errorf("defaults: %+v", cfg)
	}
	for key, mod := range map[string]func(*Config){
		"kafka-brokers":            func(c *Config) { c.Kafka.Brokers = nil },
		"batch-rows":               func(c *Config) { c.BatchRows = 0 },
		"batch-age":                func(c *Config) { c.BatchAge = 0 },
		"group-heartbeat-interval": func(c *Config) { c.SessionTimeout, c.HeartbeatInterval = time.Second, 2*time.Second },
		"dlq-topic":                func(c *Config) { c.Topics.DLQ = "" },
		"group":                    func(c *Config) { c.Group = " " },
		"memory-budget-mib":        func(c *Config) { c.MemoryBudget = 1 << 20 },
	} {
		c := DefaultConfiguration()
		mod(&c)
		var ce *ConfigError
		if err := c.Validate(); !errors.As(err, &ce) || ce.Key != key || !errors.Is(err, ErrConfig) {
			t.Errorf("%s: err = %v", key, err)
		}
	}
	if err := (Config{}).Validate(); !errors.Is(err, ErrConfig) {
		t.Errorf("zero config accepted: %v", err)
	}
	if _, err := New(cfg, Dependencies{}); !errors.Is(err, ErrConfig) {
		t.Errorf("New without ClickHouse: %v", err)
	}
}

func TestRetryable(t *testing.T) {
	for _, tc := range []struct {
		err  error
		want bool
	}{
		{&net.OpError{Op: "dial", Err: syscall.ECONNREFUSED}, true},
		{fmt.Errorf("send: %w", syscall.EPIPE), true},
		{io.ErrUnexpectedEOF, true},
		{clickhouse.ErrAcquireConnTimeout, true},
		{&clickhouse.Exception{Code: 252, Message: "Too many parts"}, true},
		{fmt.Errorf("insert: %w", &clickhouse.Exception{Code: 241}), true},
		{&clickhouse.Exception{Code: 60, Message: "Table doesn't exist"}, false},
		{&clickhouse.Exception{Code: 53, Message: "Type mismatch"}, false},
		{errors.New("clickhouse [Append]: converting string to UInt64 is unsupported"), false},
		{context.Canceled, false},
	} {
		if got := retryable(tc.err); got != tc.want {
			t.Errorf("retryable(%v) = %v, want %v", tc.err, got, tc.want)
		}
	}
}

func TestDeadLetterHeaders(t *testing.T) {
	src := &kgo.Record{Topic: "installation_tokens.tokens", Partition: 2, Offset: 41, Key: []byte("k"), Value: []byte("{"),
		Headers: []kgo.RecordHeader{{Key: "record_type", Value: []byte("token")}, {Key: schema.HeaderDLQError, Value: []byte("old")}}}
	_, err := schema.Decode(src.Value)
	d := deadLetterFor(src, err)
	got := map[string]string{}
	for _, h := range d.msg.Headers {
		if _, dup := got[h.Key]; dup {
			t.Errorf("header %s twice", h.Key)
		}
		got[h.Key] = string(h.Value)
	}
	want := map[string]string{"record_type": "token", schema.HeaderDLQTopic: "installation_tokens.tokens",
		schema.HeaderDLQPartition: "2", schema.HeaderDLQOffset: "41", schema.HeaderDLQError: err.Error()}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("header %s = %q, want %q", k, got[k], v)
		}
	}
	if string(d.msg.Key) != "k" || string(d.msg.Value) != "{" || d.msg.Topic != "" || d.reason != "malformed" {
		t.Errorf("dead letter = %+v", d)
	}
}

func TestInsertQueriesListColumns(t *testing.T) {
	for _, tb := range tables {
		var b batch
		if q := tb.query; q != "INSERT INTO "+tb.name+" ("+strings.Join(tb.columns, ", ")+")" {
			t.Errorf("%s: %s", tb.name, q)
		}
		if got := len(tb.values(&b, 0, 0)); got != len(tb.columns) {
			t.Errorf("%s: %d value columns for %d names", tb.name, got, len(tb.columns))
		}
	}
}

func TestBudgetSizes(t *testing.T) {
	for _, tc := range []struct {
		total int64
		want  budget
	}{
		{256 << 20, budget{batchBytes: (256 << 20) / 10, blockBytes: (256 << 20) / 80, fetchBytes: 8 << 20}},
		{64 << 20, budget{batchBytes: (64 << 20) / 10, blockBytes: (64 << 20) / 80, fetchBytes: 2 << 20}},
		{minMemoryBudget, budget{batchBytes: minMemoryBudget / 10, blockBytes: minMemoryBudget / 80, fetchBytes: 512 << 10}},
		{4 << 30, budget{batchBytes: (4 << 30) / 10, blockBytes: (4 << 30) / 80, fetchBytes: 64 << 20}},
	} {
		if got := newBudget(tc.total); got != tc.want {
			t.Errorf("newBudget(%d MiB) = %+v, want %+v", tc.total>>20, got, tc.want)
		}
	}
}

func TestSoftLimit(t *testing.T) {
	const budget = 256 << 20
	for _, tc := range []struct {
		cgroup uint64
		want   int64
		source string
	}{
		{0, budget * 8 / 10, "memory budget"},                   // no cgroup limit
		{9223372036854771712, budget * 8 / 10, "memory budget"}, // cgroup v1's "unlimited"
		{2 << 30, budget * 8 / 10, "memory budget"},             // a larger container does not raise it
		{320 << 20, budget * 8 / 10, "memory budget"},           // deploy/'s 320 MiB: 288 MiB > 204.8 MiB
		{200 << 20, 200 << 20 * 9 / 10, "cgroup"},               // a tighter container lowers it
		{64 << 20, 64 << 20 * 9 / 10, "cgroup"},
	} {
		got, source := softLimit(budget, tc.cgroup)
		if got != tc.want || source != tc.source {
			t.Errorf("softLimit(256 MiB, cgroup %d) = %d (%s), want %d (%s)", tc.cgroup, got, source, tc.want, tc.source)
		}
	}
}

func TestFetchSizer(t *testing.T) {
	z := newFetchSizer(newBudget(256 << 20)) // fetches decoding to 8 MiB
	if got := z.initial(1); got != 256<<10 {
		t.Fatalf("initial = %d, want 256 KiB (8 MiB at 32:1)", got)
	}
	if _, changed := z.next(1); changed {
		t.Fatal("changed before any batch was read")
	}
	batch := func(records, wire, decoded int) {
		z.OnFetchBatchRead(kgo.BrokerMetadata{}, "t", 0, kgo.FetchBatchMetrics{NumRecords: records, CompressedBytes: wire, UncompressedBytes: decoded})
	}
	// zstd JSON, 30:1 on the wire (plus franz-go's per-record overhead).
	batch(1000, 11_000, 330_000)
	size, changed := z.next(1)
	if want := int32(int64(8<<20) * 11_000 / (330_000 + 1000*recordOverhead)); !changed || size != want {
		t.Fatalf("compressed: next = %d, %v; want %d, true", size, changed, want)
	}
	if _, changed := z.next(1); changed {
		t.Fatal("changed again without new batches")
	}
	// The topic turns uncompressed (another producer): requests grow to
	// what decodes to 8 MiB, no more.
	for range 1000 {
		batch(1000, 330_000, 330_000)
	}
	size, _ = z.next(1)
	if decodedPerWire := float64(330_000+1000*recordOverhead) / 330_000; float64(size)*decodedPerWire > 8<<20*1.05 || size < 4<<20 {
		t.Fatalf("uncompressed: next = %d, want about 8 MiB / %.2f", size, decodedPerWire)
	}
	// Four brokers each get a quarter: a round of fetches still decodes
	// to 8 MiB.
	if quarter, _ := z.next(4); quarter < size/4-size/32 || quarter > size/4+size/32 {
		t.Fatalf("4 brokers: next = %d, want about %d", quarter, size/4)
	}
	// Never below the floor, never above the target.
	z2 := newFetchSizer(newBudget(minMemoryBudget))
	z2.initial(3)
	z2.OnFetchBatchRead(kgo.BrokerMetadata{}, "t", 0, kgo.FetchBatchMetrics{NumRecords: 1, CompressedBytes: 1, UncompressedBytes: 1 << 20})
	if size, _ := z2.next(1); size != minFetchBytes {
		t.Fatalf("100,000:1 = %d, want the floor %d", size, minFetchBytes)
	}
}
