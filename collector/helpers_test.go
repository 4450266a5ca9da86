package collector_test

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/segmentio/kafka-go"

	"github.com/tokentrail/tokentrail/collector"
	"github.com/tokentrail/tokentrail/collector/checkpoint"
	"github.com/tokentrail/tokentrail/collector/topicread"
	"github.com/tokentrail/tokentrail/falcon"
	"github.com/tokentrail/tokentrail/falcon/falcontest"
	"github.com/tokentrail/tokentrail/internal/kafkatest"
	"github.com/tokentrail/tokentrail/kafkaconn"
	"github.com/tokentrail/tokentrail/schema"
	"github.com/tokentrail/tokentrail/schema/schematest"

	"github.com/tokentrail/tokentrail/internal/configtest"
)

// env is an emulator, a kfake cluster and a state directory.
type env struct {
	t     *testing.T
	emu   *falcontest.Emulator
	url   string
	clock *falcontest.Clock
	conn  kafkaconn.Config
	dir   string
	pub   *collector.KafkaPublisher
	log   *slog.Logger

	pageLimit, offsetCap int // of the Falcon clients; see paging
}

var epoch = time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)

func newEnv(t *testing.T, cfg falcontest.Config) *env {
	t.Helper()
	if cfg.Clock == nil {
		cfg.Clock = falcontest.NewClock(epoch)
	}
	emu, err := falcontest.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(emu)
	t.Cleanup(srv.Close)
	_, brokers := kafkatest.Start(t, kafkatest.Options{})
	conn := kafkaconn.Config{Brokers: brokers}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := kafkaconn.EnsureTopics(ctx, conn,
		kafkaconn.Topic{Name: schema.TopicAuditEvents, Partitions: 3},
		kafkaconn.Topic{Name: schema.TopicTokens, Partitions: 3},
		kafkaconn.Topic{Name: schema.TopicSettings, Partitions: 1},
		kafkaconn.Topic{Name: schema.TopicCoverage, Partitions: 1}); err != nil {
		t.Fatal(err)
	}
	pub, err := collector.NewKafkaPublisher(conn, collector.PublisherConfig{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { pub.Close() })
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	if testing.Verbose() {
		log = slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return &env{t: t, emu: emu, url: srv.URL, clock: cfg.Clock, conn: conn, dir: t.TempDir(), pub: pub, log: log}
}

type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) { w.t.Log(string(p)); return len(p), nil }

// client returns a Falcon client for a tenant with fast retries.
func (e *env) client(tn *falcontest.Tenant, pageLimit, offsetCap int) *falcon.Client {
	e.t.Helper()
	id, secret := tn.Credentials()
	c, err := falcon.New(falconDefaults(falcon.Config{BaseURL: e.url, ClientID: id, ClientSecret: secret, RequestsPerMinute: -1,
		PageLimit: pageLimit, OffsetCap: offsetCap, BackoffBase: 5 * time.Millisecond, BackoffMax: 50 * time.Millisecond,
		MaxRetries: 20}))
	if err != nil {
		e.t.Fatal(err)
	}
	return c
}

func (e *env) fileStore() *checkpoint.FileStore {
	s, err := checkpoint.OpenFileStore(e.dir)
	if err != nil {
		e.t.Fatal(err)
	}
	return s
}

// collector builds a collector over every emulator tenant, named t0, t1...
func (e *env) collector(cfg collector.Config, store collector.Store) *collector.Collector {
	e.t.Helper()
	cfg = withDefaults(cfg)
	pageLimit, offsetCap := e.pageLimit, e.offsetCap
	if pageLimit == 0 {
		pageLimit, offsetCap = falcon.DefaultPageLimit, falcon.DefaultOffsetCap
	}
	var tenants []collector.Tenant
	for i, tn := range e.emu.Tenants() {
		tenants = append(tenants, collector.Tenant{Name: tenantName(i), API: e.client(tn, pageLimit, offsetCap)})
	}
	c, err := collector.New(cfg, collector.Dependencies{Tenants: tenants, Publisher: e.pub, Store: store, Logger: e.log,
		Registerer: prometheus.NewRegistry(), Now: e.clock.Now})
	if err != nil {
		e.t.Fatal(err)
	}
	return c
}

// paging sets the page size and offset cap of the Falcon clients that
// e.collector builds: the collector takes them from its clients.
func (e *env) paging(pageLimit, offsetCap int) { e.pageLimit, e.offsetCap = pageLimit, offsetCap }

// withDefaults returns cfg with its zero fields set to the defaults.
func withDefaults(cfg collector.Config) collector.Config {
	return configtest.WithDefaults(cfg, collector.DefaultConfiguration())
}

// falconDefaults returns cfg with its zero fields set to the defaults.
func falconDefaults(cfg falcon.Config) falcon.Config {
	return configtest.WithDefaults(cfg, falcon.DefaultConfiguration())
}

func tenantName(i int) string { return "t" + string(rune('0'+i)) }

// read returns every message of topic, validating them against their JSON
// Schema, headers and key.
func (e *env) read(topic string) []topicread.Message {
	e.t.Helper()
	v, err := schematest.New()
	if err != nil {
		e.t.Fatal(err)
	}
	tr, _ := e.conn.Transport()
	defer tr.CloseIdleConnections()
	client := &kafka.Client{Addr: kafka.TCP(e.conn.Brokers...), Transport: tr}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	var out []topicread.Message
	i := 0
	err = topicread.Read(ctx, client, topic, func(m topicread.Message) error {
		// Schema checks are slow under -race: every token and settings
		// record, every 7th audit event.
		if i++; topic == schema.TopicAuditEvents && i%7 != 0 {
			out = append(out, m)
			return nil
		}
		if err := v.ValidateMessage(m.Key, m.Value, m.Headers); err != nil {
			e.t.Errorf("%s@%d/%d: %v: %s", topic, m.Partition, m.Offset, err, m.Value)
		}
		out = append(out, m)
		return nil
	})
	if err != nil {
		e.t.Fatalf("read %s: %v", topic, err)
	}
	return out
}

// auditIDs counts the audit event ids on the topic for a tenant.
func (e *env) auditIDs(tenant string) map[string]int {
	counts := map[string]int{}
	for _, m := range e.read(schema.TopicAuditEvents) {
		var r schema.AuditEvent
		if err := json.Unmarshal(m.Value, &r); err != nil {
			e.t.Fatal(err)
		}
		if r.Tenant == tenant {
			counts[r.ID]++
		}
	}
	return counts
}

// countDiff counts ids of want missing from got, duplicate publishes, and
// ids not in want.
func countDiff(got map[string]int, want []string) (missing, dups, extra int) {
	w := make(map[string]bool, len(want))
	for _, id := range want {
		w[id] = true
		if n := got[id]; n == 0 {
			missing++
		} else {
			dups += n - 1
		}
	}
	for id := range got {
		if !w[id] {
			extra++
		}
	}
	return
}

// assertExactlyOnce checks that the topic holds want, each id once.
func assertExactlyOnce(t *testing.T, got map[string]int, want []string) {
	t.Helper()
	dups, missing := 0, 0
	wantSet := make(map[string]bool, len(want))
	for _, id := range want {
		wantSet[id] = true
		switch got[id] {
		case 0:
			missing++
		case 1:
		default:
			dups += got[id] - 1
		}
	}
	extra := 0
	for id := range got {
		if !wantSet[id] {
			extra++
		}
	}
	if dups != 0 || missing != 0 || extra != 0 {
		t.Fatalf("audit topic vs emulator: %d ids expected, %d missing, %d duplicate publishes, %d unexpected ids", len(want), missing, dups, extra)
	}
}

// latestTokens returns the last token record per id for a tenant.
func (e *env) latestTokens(tenant string) (map[string]schema.Token, int) {
	out := map[string]schema.Token{}
	msgs := e.read(schema.TopicTokens)
	// A token's records share a key, hence a partition: offset order is
	// publish order.
	n := 0
	for _, m := range msgs {
		var r schema.Token
		if err := json.Unmarshal(m.Value, &r); err != nil {
			e.t.Fatal(err)
		}
		if r.Tenant == tenant {
			out[r.ID] = r
			n++
		}
	}
	return out, n
}

func ctxT(t *testing.T, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}
