package sink_test

import (
	"context"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/tokentrail/tokentrail/kafkaconn"
	"github.com/tokentrail/tokentrail/sink"
)

// noClickHouse is a ClickHouse that is never reached: with Kafka down the
// sink has nothing to insert.
type noClickHouse struct{}

func (noClickHouse) PrepareBatch(context.Context, string, ...driver.PrepareBatchOption) (driver.Batch, error) {
	panic("PrepareBatch with Kafka down")
}
func (noClickHouse) Ping(context.Context) error { return nil }

// With no broker answering, Run keeps trying, counts the failed attempts
// in tokentrail_sink_retries_total{operation="fetch"}, is not ready, and
// returns nil when stopped.
func TestKafkaDown(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close() // connections are refused from now on
	cfg := sink.DefaultConfiguration()
	cfg.Kafka = kafkaconn.Config{Brokers: []string{addr}, DialTimeout: time.Second}
	cfg.CreateTopics = false
	reg := prometheus.NewRegistry()
	s, err := sink.New(cfg, sink.Dependencies{ClickHouse: noClickHouse{}, Logger: testLogger(), Registerer: reg})
	if err != nil {
		t.Fatal(err)
	}
	c, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- s.Run(c) }()
	time.Sleep(time.Second)
	if err := s.Ready(context.Background()); err == nil || !strings.Contains(err.Error(), "kafka") {
		t.Errorf("Ready with Kafka down = %v, want a kafka error", err)
	}
	if err := <-done; err != nil {
		t.Errorf("Run stopped with Kafka down = %v, want nil", err)
	}
	if n := metricValue(t, reg, "tokentrail_sink_retries_total", map[string]string{"operation": "fetch"}); n < 1 {
		t.Errorf("fetch retries = %v, want at least 1", n)
	}
}
