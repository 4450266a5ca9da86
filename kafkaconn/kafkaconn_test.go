package kafkaconn_test

import (
	"context"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/tokentrail/tokentrail/internal/kafkatest"
	"github.com/tokentrail/tokentrail/kafkaconn"
)

func TestEnsureTopicsCreatesMissingOnly(t *testing.T) {
	_, brokers := kafkatest.Start(t, kafkatest.Options{Topics: []string{"existing"}, Partitions: 2})
	cfg := kafkaconn.Config{Brokers: brokers}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := kafkaconn.Ping(ctx, cfg); err != nil {
		t.Fatalf("ping: %v", err)
	}
	err := kafkaconn.EnsureTopics(ctx, cfg,
		kafkaconn.Topic{Name: "existing", Partitions: 5},
		kafkaconn.Topic{Name: "fresh", Partitions: 4},
		kafkaconn.Topic{Name: "ckpt", Partitions: 1, Compacted: true})
	if err != nil {
		t.Fatal(err)
	}
	// Twice is a no-op.
	if err := kafkaconn.EnsureTopics(ctx, cfg, kafkaconn.Topic{Name: "fresh"}); err != nil {
		t.Fatal(err)
	}
	tr, _ := cfg.Transport()
	client := &kafka.Client{Addr: kafka.TCP(brokers...), Transport: tr}
	meta, err := client.Metadata(ctx, &kafka.MetadataRequest{Topics: []string{"existing", "fresh", "ckpt"}})
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]int{"existing": 2, "fresh": 4, "ckpt": 1}
	for _, tp := range meta.Topics {
		if got := len(tp.Partitions); got != want[tp.Name] {
			t.Errorf("topic %s: %d partitions, want %d", tp.Name, got, want[tp.Name])
		}
		delete(want, tp.Name)
	}
	if len(want) != 0 {
		t.Errorf("topics missing: %v", want)
	}
}

func TestValidate(t *testing.T) {
	for _, tc := range []struct {
		name string
		cfg  kafkaconn.Config
		ok   bool
	}{
		{"no brokers", kafkaconn.Config{}, false},
		{"bad broker", kafkaconn.Config{Brokers: []string{"localhost"}}, false},
		{"plain", kafkaconn.Config{Brokers: []string{"a:9092"}}, true},
		{"scram", kafkaconn.Config{Brokers: []string{"a:9092"}, SASL: kafkaconn.SASLConfig{Mechanism: "SCRAM-SHA-512", Username: "u", Password: "p"}}, true},
		{"scram no user", kafkaconn.Config{Brokers: []string{"a:9092"}, SASL: kafkaconn.SASLConfig{Mechanism: "SCRAM-SHA-256"}}, false},
		{"bad mech", kafkaconn.Config{Brokers: []string{"a:9092"}, SASL: kafkaconn.SASLConfig{Mechanism: "GSSAPI", Username: "u"}}, false},
	} {
		if err := tc.cfg.Validate(); (err == nil) != tc.ok {
			t.Errorf("%s: Validate() = %v, want ok=%v", tc.name, err, tc.ok)
		}
	}
	if got := kafkaconn.ParseBrokers(" a:1, ,b:2,"); len(got) != 2 || got[0] != "a:1" || got[1] != "b:2" {
		t.Errorf("ParseBrokers = %q", got)
	}
}
