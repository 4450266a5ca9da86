package collector_test

import (
	"context"
	"fmt"
	"log"
	"log/slog"
	"net/http/httptest"
	"os"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/tokentrail/tokentrail/collector"
	"github.com/tokentrail/tokentrail/collector/checkpoint"
	"github.com/tokentrail/tokentrail/collector/topicread"
	"github.com/tokentrail/tokentrail/falcon"
	"github.com/tokentrail/tokentrail/falcon/falcontest"
	"github.com/tokentrail/tokentrail/internal/embedkafka"
	"github.com/tokentrail/tokentrail/kafkaconn"
	"github.com/tokentrail/tokentrail/schema"
)

// A collector for one tenant, run once against an emulated Falcon tenant
// and an in-process Kafka cluster.
func Example() {
	clock := falcontest.NewClock(time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC))
	emu, err := falcontest.New(falcontest.Config{Seed: 1, Clock: clock,
		Tenants: []falcontest.TenantConfig{{Tokens: 3, Events: 200, Span: time.Hour}}})
	if err != nil {
		log.Fatal(err)
	}
	srv := httptest.NewServer(emu)
	defer srv.Close()
	clock.Advance(2 * time.Minute) // past the settle lag

	cluster, err := embedkafka.NewCluster(embedkafka.Options{})
	if err != nil {
		log.Fatal(err)
	}
	defer cluster.Close()
	conn := kafkaconn.Config{Brokers: cluster.ListenAddrs()}
	ctx := context.Background()
	if err := kafkaconn.EnsureTopics(ctx, conn, kafkaconn.Topic{Name: schema.TopicAuditEvents},
		kafkaconn.Topic{Name: schema.TopicTokens}, kafkaconn.Topic{Name: schema.TopicSettings},
		kafkaconn.Topic{Name: schema.TopicCoverage}); err != nil {
		log.Fatal(err)
	}

	id, secret := emu.Tenants()[0].Credentials()
	fcfg := falcon.DefaultConfiguration()
	fcfg.BaseURL, fcfg.ClientID, fcfg.ClientSecret = srv.URL, id, secret
	api, err := falcon.New(fcfg)
	if err != nil {
		log.Fatal(err)
	}
	pub, err := collector.NewKafkaPublisher(conn, collector.PublisherConfig{Compression: "zstd"})
	if err != nil {
		log.Fatal(err)
	}
	defer pub.Close()
	dir, _ := os.MkdirTemp("", "state")
	defer os.RemoveAll(dir)
	store, err := checkpoint.OpenFileStore(dir)
	if err != nil {
		log.Fatal(err)
	}

	cfg := collector.DefaultConfiguration()
	cfg.StartAll = true
	cfg.FingerprintKey = []byte("operator-chosen key")
	c, err := collector.New(cfg, collector.Dependencies{
		Tenants:   []collector.Tenant{{Name: "default", API: api}},
		Publisher: pub, Store: store, Now: clock.Now,
		Logger: slog.New(slog.DiscardHandler),
	})
	if err != nil {
		log.Fatal(err)
	}
	if err := c.RunOnce(ctx); err != nil { // Run(ctx) polls until ctx is done
		log.Fatal(err)
	}

	client := &kafka.Client{Addr: kafka.TCP(conn.Brokers...)}
	for _, topic := range []string{schema.TopicAuditEvents, schema.TopicTokens, schema.TopicSettings} {
		n := 0
		_ = topicread.Read(ctx, client, topic, func(topicread.Message) error { n++; return nil })
		fmt.Println(topic, n)
	}
	// Output:
	// installation_tokens.audit_events 200
	// installation_tokens.tokens 3
	// installation_tokens.settings 1
}

func ExampleParseStartTime() {
	now := time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)
	for _, s := range []string{"30d", "2025-01-01", "all"} {
		t, all, err := collector.ParseStartTime(s, now)
		fmt.Println(t.Format(time.RFC3339), all, err)
	}
	// Output:
	// 2025-05-02T12:00:00Z false <nil>
	// 2025-01-01T00:00:00Z false <nil>
	// 0001-01-01T00:00:00Z true <nil>
}

// The token value becomes a keyed fingerprint: an analyst holding a leaked
// value and the key can find the token; the pipeline never stores the value.
func ExampleTokenState() {
	key := []byte("operator-chosen key")
	st := collector.TokenState(key, falcon.Token{ID: "c3f0a9e1b2d84f6a9e0d1c2b3a4f5e6d", Label: "Windows servers",
		Value: "7D41C9A2", Status: "valid"})
	fmt.Println(st.Label, st.ValueFingerprint == schema.Fingerprint(key, "7D41C9A2"))
	// Output: Windows servers true
}
