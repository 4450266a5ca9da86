package kafkaconn_test

import (
	"fmt"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/tokentrail/tokentrail/kafkaconn"
)

// ClientOpts gives a franz-go client the same brokers, TLS and SASL as the
// kafka-go transports.
func ExampleConfig_ClientOpts() {
	cfg := kafkaconn.DefaultConfiguration()
	cfg.SASL = kafkaconn.SASLConfig{Mechanism: "SCRAM-SHA-512", Username: "tokentrail-sink", Password: "from-a-file"}
	opts, err := cfg.ClientOpts()
	if err != nil {
		fmt.Println(err)
		return
	}
	cl, err := kgo.NewClient(append(opts, kgo.ConsumeTopics("installation_tokens.audit_events"))...)
	if err != nil {
		fmt.Println(err)
		return
	}
	defer cl.Close()
	fmt.Println("seed brokers:", cfg.Brokers)
	// Output: seed brokers: [127.0.0.1:9092]
}
