package kafkaconn

import (
	"context"
	"errors"
	"fmt"
	"net"

	"github.com/segmentio/kafka-go"
)

// Topic describes a topic to create when missing.
type Topic struct {
	Name              string
	Partitions        int // default 3
	ReplicationFactor int // default: min(3, number of brokers)
	// Compacted sets cleanup.policy=compact (checkpoint topics).
	Compacted bool
}

// EnsureTopics creates the topics that do not exist yet. Existing topics are
// left as they are.
func EnsureTopics(ctx context.Context, c Config, topics ...Topic) error {
	tr, err := c.Transport()
	if err != nil {
		return err
	}
	defer tr.CloseIdleConnections()
	client := &kafka.Client{Addr: kafka.TCP(c.Brokers...), Transport: tr}
	meta, err := client.Metadata(ctx, &kafka.MetadataRequest{})
	if err != nil {
		return fmt.Errorf("kafkaconn: read metadata from %v: %w", c.Brokers, err)
	}
	have := make(map[string]bool, len(meta.Topics))
	for _, t := range meta.Topics {
		if t.Error == nil {
			have[t.Name] = true
		}
	}
	rf := len(meta.Brokers)
	if rf > 3 {
		rf = 3
	}
	if rf < 1 {
		rf = 1
	}
	var req kafka.CreateTopicsRequest
	for _, t := range topics {
		if have[t.Name] {
			continue
		}
		tc := kafka.TopicConfig{Topic: t.Name, NumPartitions: t.Partitions, ReplicationFactor: t.ReplicationFactor}
		if tc.NumPartitions <= 0 {
			tc.NumPartitions = 3
		}
		if tc.ReplicationFactor <= 0 {
			tc.ReplicationFactor = rf
		}
		if t.Compacted {
			tc.ConfigEntries = []kafka.ConfigEntry{{ConfigName: "cleanup.policy", ConfigValue: "compact"}}
		}
		req.Topics = append(req.Topics, tc)
	}
	if len(req.Topics) == 0 {
		return nil
	}
	res, err := client.CreateTopics(ctx, &req)
	if err != nil {
		return fmt.Errorf("kafkaconn: create topics: %w", err)
	}
	for name, err := range res.Errors {
		if err != nil && !errors.Is(err, kafka.TopicAlreadyExists) {
			return fmt.Errorf("kafkaconn: create topic %s: %w", name, err)
		}
	}
	return nil
}

// Ping checks that a broker answers, for readiness probes.
func Ping(ctx context.Context, c Config) error {
	d, err := c.Dialer()
	if err != nil {
		return err
	}
	var last error
	for _, b := range c.Brokers {
		conn, err := d.DialContext(ctx, "tcp", b)
		if err != nil {
			last = err
			continue
		}
		_, err = conn.Brokers()
		conn.Close()
		if err == nil {
			return nil
		}
		last = err
	}
	var ne net.Error
	if errors.As(last, &ne) {
		return fmt.Errorf("kafkaconn: no broker of %v reachable: %w", c.Brokers, last)
	}
	return fmt.Errorf("kafkaconn: brokers %v: %w", c.Brokers, last)
}
