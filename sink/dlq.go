package sink

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/segmentio/kafka-go"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/tokentrail/tokentrail/schema"
)

// deadLetterFor copies a rejected record for the dead-letter topic: same
// key, value and headers, plus headers naming the source and the error
// (replacing those of an earlier dead-lettering, if any). It copies the
// bytes: a record's key and value point into a whole fetched buffer.
func deadLetterFor(r *kgo.Record, err error) deadLetter {
	headers := make([]kafka.Header, 0, len(r.Headers)+4)
	for _, h := range r.Headers {
		if !strings.HasPrefix(h.Key, "dlq_") {
			headers = append(headers, kafka.Header{Key: h.Key, Value: bytes.Clone(h.Value)})
		}
	}
	headers = append(headers,
		kafka.Header{Key: schema.HeaderDLQTopic, Value: []byte(r.Topic)},
		kafka.Header{Key: schema.HeaderDLQPartition, Value: []byte(strconv.Itoa(int(r.Partition)))},
		kafka.Header{Key: schema.HeaderDLQOffset, Value: []byte(strconv.FormatInt(r.Offset, 10))},
		kafka.Header{Key: schema.HeaderDLQError, Value: []byte(err.Error())},
	)
	return deadLetter{
		msg:    kafka.Message{Key: bytes.Clone(r.Key), Value: bytes.Clone(r.Value), Headers: headers},
		topic:  r.Topic,
		reason: reason(err),
	}
}

// reason is the metric label for a rejection.
func reason(err error) string {
	switch {
	case errors.Is(err, schema.ErrMalformed):
		return "malformed"
	case errors.Is(err, schema.ErrUnknownRecordType):
		return "unknown_record_type"
	case errors.Is(err, schema.ErrUnsupportedVersion):
		return "unsupported_version"
	default:
		return "invalid"
	}
}

// newDLQWriter returns a synchronous writer that waits for every in-sync
// replica: a dead letter is the only copy the sink keeps of a record whose
// offset it is about to commit.
func newDLQWriter(cfg Config, transport *kafka.Transport) *kafka.Writer {
	return &kafka.Writer{
		Addr:         kafka.TCP(cfg.Kafka.Brokers...),
		Topic:        cfg.Topics.DLQ,
		Transport:    transport,
		Balancer:     &kafka.Hash{},
		RequiredAcks: kafka.RequireAll,
		BatchSize:    1000,
		BatchTimeout: 5 * time.Millisecond, // a flush writes its dead letters in one call
		MaxAttempts:  5,
	}
}

// writeDeadLetters writes a batch's dead letters, bounded by DLQTimeout.
func (s *Sink) writeDeadLetters(ctx context.Context, dls []deadLetter) error {
	if len(dls) == 0 {
		return nil
	}
	msgs := make([]kafka.Message, len(dls))
	for i, d := range dls {
		msgs[i] = d.msg
	}
	ctx, cancel := context.WithTimeout(ctx, s.cfg.DLQTimeout)
	defer cancel()
	if err := s.dlq.WriteMessages(ctx, msgs...); err != nil {
		return fmt.Errorf("sink: write %d records to dead-letter topic %s: %w", len(msgs), s.cfg.Topics.DLQ, firstError(err))
	}
	for _, d := range dls {
		s.m.deadLetters.WithLabelValues(d.topic, d.reason).Inc()
	}
	s.stats.deadLetters.Add(int64(len(dls)))
	return nil
}

// firstError shortens kafka-go's per-message error lists.
func firstError(err error) error {
	var we kafka.WriteErrors
	if errors.As(err, &we) {
		for _, e := range we {
			if e != nil {
				return fmt.Errorf("%d of %d messages failed, first: %w", we.Count(), len(we), e)
			}
		}
	}
	return err
}
