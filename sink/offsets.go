package sink

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/segmentio/kafka-go"
)

// bounds are a partition's first and end offsets.
type bounds struct{ first, end int64 }

// offsets returns the first and end offsets of every partition of topics.
func (s *Sink) offsets(ctx context.Context, client *kafka.Client, topics []string) (map[topicPartition]bounds, error) {
	meta, err := client.Metadata(ctx, &kafka.MetadataRequest{Topics: topics})
	if err != nil {
		return nil, fmt.Errorf("sink: read metadata of %v: %w", topics, err)
	}
	req := &kafka.ListOffsetsRequest{Topics: map[string][]kafka.OffsetRequest{}}
	for _, t := range meta.Topics {
		if t.Error != nil {
			return nil, fmt.Errorf("sink: topic %s: %w", t.Name, t.Error)
		}
		for _, p := range t.Partitions {
			req.Topics[t.Name] = append(req.Topics[t.Name], kafka.FirstOffsetOf(p.ID), kafka.LastOffsetOf(p.ID))
		}
	}
	res, err := client.ListOffsets(ctx, req)
	if err != nil {
		return nil, fmt.Errorf("sink: list offsets of %v: %w", topics, err)
	}
	out := map[topicPartition]bounds{}
	for topic, ps := range res.Topics {
		for _, po := range ps {
			if po.Error != nil {
				return nil, fmt.Errorf("sink: list offsets of %s/%d: %w", topic, po.Partition, po.Error)
			}
			out[topicPartition{topic, po.Partition}] = bounds{po.FirstOffset, po.LastOffset}
		}
	}
	return out, nil
}

// committed returns the group's committed offsets of the given partitions
// (-1 when none).
func (s *Sink) committed(ctx context.Context, client *kafka.Client, tps []topicPartition) (map[topicPartition]int64, error) {
	out := map[topicPartition]int64{}
	parts := map[string][]int{}
	for _, tp := range tps {
		out[tp] = -1
		parts[tp.topic] = append(parts[tp.topic], tp.partition)
	}
	res, err := client.OffsetFetch(ctx, &kafka.OffsetFetchRequest{GroupID: s.cfg.Group, Topics: parts})
	if err == nil {
		err = res.Error
	}
	if errors.Is(err, kafka.GroupIdNotFound) { // some brokers say so for a group that never committed
		return out, nil
	}
	if err != nil {
		return nil, fmt.Errorf("sink: read group %s offsets: %w", s.cfg.Group, err)
	}
	for topic, ps := range res.Topics {
		for _, p := range ps {
			if p.Error != nil {
				return nil, fmt.Errorf("sink: read group %s offset of %s/%d: %w", s.cfg.Group, topic, p.Partition, p.Error)
			}
			out[topicPartition{topic, p.Partition}] = p.CommittedOffset
		}
	}
	return out, nil
}

// lagOf is what the group has left to read of a partition.
func lagOf(b bounds, committed int64) int64 {
	return max(b.end-max(committed, b.first), 0)
}

// endOffsets returns, for every partition of topics that holds records the
// group has not committed, the partition's end offset now: Drain's targets.
func (s *Sink) endOffsets(ctx context.Context, client *kafka.Client, topics []string) (map[topicPartition]int64, error) {
	offs, err := s.offsets(ctx, client, topics)
	if err != nil {
		return nil, err
	}
	committed, err := s.committed(ctx, client, keys(offs))
	if err != nil {
		return nil, err
	}
	targets := map[topicPartition]int64{}
	for tp, b := range offs {
		if lagOf(b, committed[tp]) > 0 {
			targets[tp] = b.end
		}
	}
	return targets, nil
}

// reportLag sets the consumer-lag gauge of every partition of topics (end
// offset minus the group's committed offset) every LagInterval until ctx
// is done. It is the group's lag, whichever member holds the partition.
func (s *Sink) reportLag(ctx context.Context, client *kafka.Client, topics []string) {
	t := time.NewTicker(s.cfg.LagInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		offs, err := s.offsets(ctx, client, topics)
		var committed map[topicPartition]int64
		if err == nil {
			committed, err = s.committed(ctx, client, keys(offs))
		}
		if err != nil {
			s.log.Debug("reading consumer lag", "err", err)
			continue
		}
		for tp, b := range offs {
			s.m.lag.WithLabelValues(tp.topic, partitionLabel(tp.partition)).Set(float64(lagOf(b, committed[tp])))
		}
	}
}

func keys[V any](m map[topicPartition]V) []topicPartition {
	out := make([]topicPartition, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	return out
}
