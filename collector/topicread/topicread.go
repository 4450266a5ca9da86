// Package topicread answers one question: what is on a Kafka topic right
// now. It reads every partition from its first offset up to the high
// watermark seen when the read starts, without a consumer group, through a
// kafka-go Client (so TLS and SASL apply). The checkpoint store reads its
// compacted topic with it, and tests read what the collector published.
package topicread

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sort"
	"time"

	"github.com/segmentio/kafka-go"
)

// Message is one record read from a topic.
type Message struct {
	Partition int
	Offset    int64
	Key       []byte
	Value     []byte // nil for a tombstone
	Headers   []kafka.Header
	Time      time.Time
}

// Header returns the value of the first header named name.
func (m *Message) Header(name string) (string, bool) {
	for _, h := range m.Headers {
		if h.Key == name {
			return string(h.Value), true
		}
	}
	return "", false
}

// ErrNoTopic is returned when the topic does not exist.
var ErrNoTopic = errors.New("topicread: topic does not exist")

// Read calls fn for every message of topic, partition by partition in offset
// order, up to the end offsets seen when it starts.
func Read(ctx context.Context, c *kafka.Client, topic string, fn func(Message) error) error {
	meta, err := c.Metadata(ctx, &kafka.MetadataRequest{Topics: []string{topic}})
	if err != nil {
		return fmt.Errorf("topicread: metadata of %s: %w", topic, err)
	}
	var parts []int
	for _, t := range meta.Topics {
		if t.Name != topic {
			continue
		}
		if t.Error != nil {
			if errors.Is(t.Error, kafka.UnknownTopicOrPartition) {
				return fmt.Errorf("%w: %s", ErrNoTopic, topic)
			}
			return fmt.Errorf("topicread: metadata of %s: %w", topic, t.Error)
		}
		for _, p := range t.Partitions {
			parts = append(parts, p.ID)
		}
	}
	if len(parts) == 0 {
		return fmt.Errorf("%w: %s", ErrNoTopic, topic)
	}
	sort.Ints(parts)
	req := map[string][]kafka.OffsetRequest{}
	for _, p := range parts {
		req[topic] = append(req[topic], kafka.FirstOffsetOf(p), kafka.LastOffsetOf(p))
	}
	offs, err := c.ListOffsets(ctx, &kafka.ListOffsetsRequest{Topics: req})
	if err != nil {
		return fmt.Errorf("topicread: list offsets of %s: %w", topic, err)
	}
	type span struct{ first, end int64 }
	spans := map[int]span{}
	for _, po := range offs.Topics[topic] {
		if po.Error != nil {
			return fmt.Errorf("topicread: offsets of %s/%d: %w", topic, po.Partition, po.Error)
		}
		spans[po.Partition] = span{po.FirstOffset, po.LastOffset}
	}
	for _, p := range parts {
		sp := spans[p]
		if err := readPartition(ctx, c, topic, p, sp.first, sp.end, fn); err != nil {
			return err
		}
	}
	return nil
}

func readPartition(ctx context.Context, c *kafka.Client, topic string, part int, off, end int64, fn func(Message) error) error {
	empty := 0
	for off < end {
		res, err := c.Fetch(ctx, &kafka.FetchRequest{Topic: topic, Partition: part, Offset: off,
			MinBytes: 1, MaxBytes: 8 << 20, MaxWait: 500 * time.Millisecond})
		if err != nil {
			return fmt.Errorf("topicread: fetch %s/%d at %d: %w", topic, part, off, err)
		}
		if res.Error != nil {
			return fmt.Errorf("topicread: fetch %s/%d at %d: %w", topic, part, off, res.Error)
		}
		progressed := false
		for {
			r, err := res.Records.ReadRecord()
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				return fmt.Errorf("topicread: decode %s/%d near %d: %w", topic, part, off, err)
			}
			if r.Offset < off || r.Offset >= end {
				continue
			}
			m := Message{Partition: part, Offset: r.Offset, Headers: r.Headers, Time: r.Time}
			if m.Key, err = readAll(r.Key); err == nil {
				m.Value, err = readAll(r.Value)
			}
			if err != nil {
				return fmt.Errorf("topicread: read %s/%d@%d: %w", topic, part, r.Offset, err)
			}
			off = r.Offset + 1
			progressed = true
			if err := fn(m); err != nil {
				return err
			}
		}
		if !progressed {
			// Compaction or aborted transactions can leave gaps; the
			// high watermark bounds the walk either way.
			if res.HighWatermark <= off {
				return nil
			}
			if err := ctx.Err(); err != nil {
				return err
			}
			if res.LogStartOffset > off {
				off = res.LogStartOffset
				continue
			}
			if empty++; empty > 20 {
				return fmt.Errorf("topicread: %s/%d returns nothing at offset %d below its high watermark %d", topic, part, off, res.HighWatermark)
			}
		} else {
			empty = 0
		}
	}
	return nil
}

func readAll(b kafka.Bytes) ([]byte, error) {
	if b == nil {
		return nil, nil
	}
	defer b.Close()
	return io.ReadAll(b)
}
