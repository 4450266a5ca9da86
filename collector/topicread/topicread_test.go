package topicread_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/tokentrail/tokentrail/collector/topicread"
	"github.com/tokentrail/tokentrail/internal/kafkatest"
)

func TestRead(t *testing.T) {
	_, brokers := kafkatest.Start(t, kafkatest.Options{Topics: []string{"t"}, Partitions: 3})
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	client := &kafka.Client{Addr: kafka.TCP(brokers...)}
	if err := topicread.Read(ctx, client, "nope", func(topicread.Message) error { return nil }); !errors.Is(err, topicread.ErrNoTopic) {
		t.Fatalf("missing topic: %v", err)
	}
	w := &kafka.Writer{Addr: kafka.TCP(brokers...), Topic: "t", Balancer: &kafka.Hash{}, RequiredAcks: kafka.RequireAll,
		BatchTimeout: time.Millisecond, Compression: kafka.Zstd}
	var msgs []kafka.Message
	for i := 0; i < 500; i++ {
		msgs = append(msgs, kafka.Message{Key: []byte(fmt.Sprint(i % 50)), Value: []byte(fmt.Sprint(i)),
			Headers: []kafka.Header{{Key: "h", Value: []byte("v")}}})
	}
	msgs = append(msgs, kafka.Message{Key: []byte("tomb")}) // a tombstone
	if err := w.WriteMessages(ctx, msgs...); err != nil {
		t.Fatal(err)
	}
	w.Close()
	seen := map[string]bool{}
	last := map[int]int64{}
	tombstones := 0
	err := topicread.Read(ctx, client, "t", func(m topicread.Message) error {
		if prev, ok := last[m.Partition]; ok && m.Offset <= prev {
			t.Errorf("partition %d: offset %d after %d", m.Partition, m.Offset, prev)
		}
		last[m.Partition] = m.Offset
		if m.Value == nil {
			tombstones++
			return nil
		}
		if h, ok := m.Header("h"); !ok || h != "v" {
			t.Errorf("header h = %q, %v", h, ok)
		}
		seen[string(m.Value)] = true
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(seen) != 500 || tombstones != 1 || len(last) < 2 {
		t.Fatalf("read %d values, %d tombstones, from %d partitions", len(seen), tombstones, len(last))
	}
	stop := errors.New("stop")
	if err := topicread.Read(ctx, client, "t", func(topicread.Message) error { return stop }); !errors.Is(err, stop) {
		t.Fatalf("callback error not returned: %v", err)
	}
}
