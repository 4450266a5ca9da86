package collector

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/segmentio/kafka-go"
	"github.com/segmentio/kafka-go/compress"

	"github.com/tokentrail/tokentrail/kafkaconn"
)

// PublisherConfig configures a KafkaPublisher. Zero values are the defaults.
type PublisherConfig struct {
	// Compression: "none", "gzip", "snappy", "lz4" or "zstd" (default).
	Compression string
	// BatchTimeout bounds how long the writer waits to fill a partition
	// batch; a synchronous batch of records flushes well before. Default 5ms.
	BatchTimeout time.Duration
	// BatchBytes caps one produce request per partition. Default 16 MiB.
	BatchBytes int64
	// WriteTimeout bounds one produce request. Default 30s.
	WriteTimeout time.Duration
}

// ParseCompression maps a codec name to kafka-go's codec ("none" is 0).
func ParseCompression(name string) (kafka.Compression, error) {
	switch strings.ToLower(strings.TrimSpace(name)) {
	case "", "zstd":
		return compress.Zstd, nil
	case "none":
		return 0, nil
	case "gzip":
		return compress.Gzip, nil
	case "snappy":
		return compress.Snappy, nil
	case "lz4":
		return compress.Lz4, nil
	}
	return 0, fmt.Errorf("collector: compression %q is not one of none, gzip, snappy, lz4, zstd", name)
}

// KafkaPublisher writes record batches with kafka-go and returns once the
// brokers acknowledged every record (acks=all). It is safe for concurrent
// use by several tenants.
type KafkaPublisher struct {
	w    *kafka.Writer
	conn kafkaconn.Config
	tr   *kafka.Transport
}

// NewKafkaPublisher returns a publisher for the cluster of conn. Messages
// name their topic.
func NewKafkaPublisher(conn kafkaconn.Config, cfg PublisherConfig) (*KafkaPublisher, error) {
	codec, err := ParseCompression(cfg.Compression)
	if err != nil {
		return nil, err
	}
	tr, err := conn.Transport()
	if err != nil {
		return nil, err
	}
	if cfg.BatchTimeout <= 0 {
		cfg.BatchTimeout = 5 * time.Millisecond
	}
	if cfg.BatchBytes <= 0 {
		cfg.BatchBytes = 16 << 20
	}
	if cfg.WriteTimeout <= 0 {
		cfg.WriteTimeout = 30 * time.Second
	}
	w := &kafka.Writer{
		Addr:      kafka.TCP(conn.Brokers...),
		Transport: tr,
		// Murmur2 places a key on the partition a Java producer would, so
		// every record of one id lands on one partition whatever the client.
		Balancer:     &kafka.Murmur2Balancer{},
		RequiredAcks: kafka.RequireAll,
		Compression:  codec,
		// The collector hands over whole batches and waits for them, so a
		// partition batch may hold a whole page of records.
		BatchSize:    10000,
		BatchBytes:   cfg.BatchBytes,
		BatchTimeout: cfg.BatchTimeout,
		WriteTimeout: cfg.WriteTimeout,
		MaxAttempts:  5,
	}
	return &KafkaPublisher{w: w, conn: conn, tr: tr}, nil
}

// Publish writes msgs and waits for acks=all of every one.
func (p *KafkaPublisher) Publish(ctx context.Context, msgs []kafka.Message) error {
	if len(msgs) == 0 {
		return nil
	}
	if err := p.w.WriteMessages(ctx, msgs...); err != nil {
		return fmt.Errorf("collector: publish %d records: %w", len(msgs), err)
	}
	return nil
}

// Ping checks that a broker answers (readiness).
func (p *KafkaPublisher) Ping(ctx context.Context) error { return kafkaconn.Ping(ctx, p.conn) }

// Close flushes and closes the writer.
func (p *KafkaPublisher) Close() error {
	err := p.w.Close()
	p.tr.CloseIdleConnections()
	return err
}
