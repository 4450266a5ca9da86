package checkpoint

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/segmentio/kafka-go"
	"github.com/segmentio/kafka-go/compress"

	"github.com/tokentrail/tokentrail/collector/topicread"
	"github.com/tokentrail/tokentrail/kafkaconn"
)

// DefaultTopic is the compacted topic of KafkaStore.
const DefaultTopic = "tokentrail.checkpoints"

// KafkaConfig configures a KafkaStore.
type KafkaConfig struct {
	Conn kafkaconn.Config
	// Topic holds one record per tenant (key = tenant); default DefaultTopic.
	Topic string
	// Create creates the topic (compacted, one partition) when missing.
	Create bool
	// ReplicationFactor of a created topic; 0 = min(3, brokers).
	ReplicationFactor int
}

// KafkaStore keeps checkpoints in a compacted Kafka topic, one record per
// tenant keyed by the tenant name, so that a collector can move between hosts.
// On the first Load it reads the topic to its end and keeps the newest record
// of every tenant; Save produces with acks=all and returns once the brokers
// acknowledged. One collector process per tenant writes it.
type KafkaStore struct {
	cfg    KafkaConfig
	client *kafka.Client
	w      *kafka.Writer
	tr     *kafka.Transport

	mu     sync.Mutex
	loaded bool
	latest map[string][]byte
}

// OpenKafkaStore connects (and creates the topic if cfg.Create).
func OpenKafkaStore(ctx context.Context, cfg KafkaConfig) (*KafkaStore, error) {
	if cfg.Topic == "" {
		cfg.Topic = DefaultTopic
	}
	tr, err := cfg.Conn.Transport()
	if err != nil {
		return nil, err
	}
	if cfg.Create {
		if err := kafkaconn.EnsureTopics(ctx, cfg.Conn, kafkaconn.Topic{Name: cfg.Topic, Partitions: 1,
			ReplicationFactor: cfg.ReplicationFactor, Compacted: true}); err != nil {
			return nil, fmt.Errorf("checkpoint: create topic %s: %w", cfg.Topic, err)
		}
	}
	addr := kafka.TCP(cfg.Conn.Brokers...)
	return &KafkaStore{
		cfg:    cfg,
		tr:     tr,
		client: &kafka.Client{Addr: addr, Transport: tr, Timeout: 30 * time.Second},
		w: &kafka.Writer{Addr: addr, Topic: cfg.Topic, Transport: tr, Balancer: &kafka.Murmur2Balancer{},
			RequiredAcks: kafka.RequireAll, BatchTimeout: time.Millisecond, BatchBytes: 16 << 20,
			Compression: compress.Zstd, MaxAttempts: 5},
	}, nil
}

// Topic is the checkpoint topic.
func (s *KafkaStore) Topic() string { return s.cfg.Topic }

func (s *KafkaStore) where(tenant string) string { return s.cfg.Topic + "[" + tenant + "]" }

// Load returns tenant's newest checkpoint, or (nil, nil) when the topic has
// none. A record that cannot be decoded is a *CorruptError.
func (s *KafkaStore) Load(ctx context.Context, tenant string) (*State, error) {
	if err := ValidTenant(tenant); err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.loaded {
		latest := map[string][]byte{}
		err := topicread.Read(ctx, s.client, s.cfg.Topic, func(m topicread.Message) error {
			latest[string(m.Key)] = m.Value
			return nil
		})
		if errors.Is(err, topicread.ErrNoTopic) {
			return nil, fmt.Errorf("checkpoint: topic %s does not exist (create it, compacted, or enable topic creation)", s.cfg.Topic)
		}
		if err != nil {
			return nil, fmt.Errorf("checkpoint: read %s: %w", s.cfg.Topic, err)
		}
		s.latest, s.loaded = latest, true
	}
	data, ok := s.latest[tenant]
	if !ok || data == nil { // absent or tombstone
		return nil, nil
	}
	return Unmarshal(data, tenant, s.where(tenant))
}

// Save produces st and waits for acks=all.
func (s *KafkaStore) Save(ctx context.Context, st *State) error {
	if err := ValidTenant(st.Tenant); err != nil {
		return err
	}
	data, err := st.Marshal()
	if err != nil {
		return fmt.Errorf("checkpoint: encode %s: %w", st.Tenant, err)
	}
	if err := s.w.WriteMessages(ctx, kafka.Message{Key: []byte(st.Tenant), Value: data}); err != nil {
		return fmt.Errorf("checkpoint: write %s: %w", s.where(st.Tenant), err)
	}
	s.mu.Lock()
	if s.loaded {
		s.latest[st.Tenant] = data
	}
	s.mu.Unlock()
	return nil
}

// Close flushes and closes the writer.
func (s *KafkaStore) Close() error {
	err := s.w.Close()
	s.tr.CloseIdleConnections()
	return err
}
