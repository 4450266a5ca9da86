// Package embedkafka starts an in-process Kafka cluster for the embedded
// demo (and, through internal/kafkatest, for tests). The cluster is
// franz-go's kfake, which speaks the real Kafka wire protocol, so kafka-go
// clients talk to it exactly as they talk to a production cluster. It does
// not import testing: production binaries link it.
package embedkafka

import "github.com/twmb/franz-go/pkg/kfake"

// Options configures a cluster. The zero value is one broker, topic
// auto-creation off, data in memory.
type Options struct {
	Brokers int      // default 1
	DataDir string   // "" = in memory; otherwise data survives a restart
	Topics  []string // created at start with Partitions partitions
	// Partitions per seeded topic; default 3.
	Partitions int
}

// NewCluster starts a cluster. Close it when done.
func NewCluster(o Options) (*kfake.Cluster, error) {
	if o.Brokers <= 0 {
		o.Brokers = 1
	}
	if o.Partitions <= 0 {
		o.Partitions = 3
	}
	opts := []kfake.Opt{kfake.NumBrokers(o.Brokers)}
	if o.DataDir != "" {
		opts = append(opts, kfake.DataDir(o.DataDir))
	}
	if len(o.Topics) > 0 {
		opts = append(opts, kfake.SeedTopics(int32(o.Partitions), o.Topics...))
	}
	return kfake.NewCluster(opts...)
}
