package main

import (
	"context"
	"fmt"
	"time"

	"github.com/tokentrail/tokentrail/kafkaconn"
	"github.com/tokentrail/tokentrail/schema"
	"github.com/tokentrail/tokentrail/telemetry"
)

// RunCmd runs the collector and the sink in one process.
type RunCmd struct {
	KafkaFlags
	CollectFlags
	SinkFlags
	Once bool `help:"Catch the collector up to the present, then drain the sink to the end offsets, commit both and exit 0." env:"TOKENTRAIL_ONCE"`
}

// Run implements the command.
func (c *RunCmd) Run(ctx context.Context, g *Globals) error {
	tel, stopTel, err := g.startTelemetry(ctx)
	if err != nil {
		return err
	}
	defer stopTel()
	return runBoth(ctx, g, c.KafkaFlags, c.CollectFlags, c.SinkFlags, c.Once, tel)
}

// runBoth runs collect and sink together. With once, the collector catches
// up first and the sink then drains everything it published. Otherwise both
// run until ctx ends; if either fails, the other is stopped gracefully and
// the first error is returned.
func runBoth(ctx context.Context, g *Globals, k KafkaFlags, cf CollectFlags, sf SinkFlags, once bool, tel *telemetry.Server) error {
	// The sink reads the topics the collector writes.
	sf.Topics = TopicFlags{AuditTopic: cf.AuditTopic, TokensTopic: cf.TokensTopic, SettingsTopic: cf.SettingsTopic}
	if once {
		if err := runCollect(ctx, g, k, cf, true, tel); err != nil {
			return fmt.Errorf("collect: %w", err)
		}
		if err := runSink(ctx, g, k, sf, true, nil, tel); err != nil {
			return fmt.Errorf("sink: %w", err)
		}
		return nil
	}
	// The sink's consumer group needs the topics; create them before either
	// starts rather than racing the collector.
	if cf.CreateTopics {
		kcfg, err := k.KafkaConfig()
		if err != nil {
			return err
		}
		var topics []kafkaconn.Topic
		for _, name := range []string{cf.AuditTopic, cf.TokensTopic, cf.SettingsTopic, schema.TopicCoverage, sf.DLQTopic} {
			topics = append(topics, kafkaconn.Topic{Name: name, Partitions: cf.TopicPartitions, ReplicationFactor: cf.TopicReplicationFactor})
		}
		if err := kafkaconn.EnsureTopics(ctx, kcfg, topics...); err != nil {
			return fmt.Errorf("create topics: %w", err)
		}
	}
	// On a stop the collector ends first; the sink then drains what it
	// published (RunThenDrain), so a clean stop leaves nothing behind in
	// Kafka that this process produced. If either fails, the other is
	// stopped at once and the first error is returned.
	collectCtx, stopCollect := context.WithCancel(ctx)
	defer stopCollect()
	sinkCtx, stopSink := context.WithCancel(context.WithoutCancel(ctx))
	defer stopSink()
	drain := make(chan struct{})
	collected, sunk := make(chan error, 1), make(chan error, 1)
	go func() {
		err := runCollect(collectCtx, g, k, cf, false, tel)
		if err != nil {
			err = fmt.Errorf("collect: %w", err)
		}
		collected <- err
	}()
	go func() {
		err := runSink(sinkCtx, g, k, sf, false, drain, tel)
		if err != nil {
			err = fmt.Errorf("sink: %w", err)
		}
		sunk <- err
	}()
	select {
	case cerr := <-collected:
		if cerr == nil && ctx.Err() != nil {
			close(drain)
			// The sink bounds what follows the drain's start by the
			// shutdown timeout; this bounds the wait for the group too.
			t := time.AfterFunc(g.ShutdownTimeout, stopSink)
			defer t.Stop()
		} else {
			stopSink()
		}
		serr := <-sunk
		if cerr != nil {
			return cerr
		}
		return serr
	case serr := <-sunk:
		stopCollect()
		cerr := <-collected
		if serr != nil {
			return serr
		}
		return cerr
	}
}
