// Package kafkatest starts in-process Kafka clusters (internal/embedkafka)
// that end with the test.
package kafkatest

import (
	"testing"

	"github.com/twmb/franz-go/pkg/kfake"

	"github.com/tokentrail/tokentrail/internal/embedkafka"
)

// Options configures a cluster; see embedkafka.Options.
type Options = embedkafka.Options

// Start starts a cluster closed when the test ends and returns its broker
// addresses.
func Start(t testing.TB, o Options) (*kfake.Cluster, []string) {
	t.Helper()
	c, err := embedkafka.NewCluster(o)
	if err != nil {
		t.Fatalf("start kfake cluster: %v", err)
	}
	t.Cleanup(c.Close)
	return c, c.ListenAddrs()
}
