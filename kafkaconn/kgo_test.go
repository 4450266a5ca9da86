package kafkaconn_test

import (
	"context"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/tokentrail/tokentrail/kafkaconn"
)

// ClientOpts authenticates with each SASL mechanism the configuration
// offers, against a broker that requires it, and a wrong password fails.
func TestClientOptsSASL(t *testing.T) {
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.EnableSASL(),
		kfake.Superuser("PLAIN", "plain-user", "plain-pass"),
		kfake.Superuser("SCRAM-SHA-256", "scram256-user", "scram256-pass"),
		kfake.Superuser("SCRAM-SHA-512", "scram512-user", "scram512-pass"))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	ping := func(sasl kafkaconn.SASLConfig) error {
		opts, err := kafkaconn.Config{Brokers: c.ListenAddrs(), SASL: sasl}.ClientOpts()
		if err != nil {
			t.Fatalf("%s: ClientOpts: %v", sasl.Mechanism, err)
		}
		cl, err := kgo.NewClient(opts...)
		if err != nil {
			t.Fatal(err)
		}
		defer cl.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		return cl.Ping(ctx)
	}
	for _, m := range []struct{ mechanism, user, pass string }{
		{"PLAIN", "plain-user", "plain-pass"},
		{"scram-sha-256", "scram256-user", "scram256-pass"},
		{"SCRAM-SHA-512", "scram512-user", "scram512-pass"},
	} {
		if err := ping(kafkaconn.SASLConfig{Mechanism: m.mechanism, Username: m.user, Password: m.pass}); err != nil {
			t.Errorf("%s: %v", m.mechanism, err)
		}
	}
	if err := ping(kafkaconn.SASLConfig{Mechanism: "PLAIN", Username: "plain-user", Password: "wrong"}); err == nil {
		t.Error("PLAIN with a wrong password: no error")
	}
}

func TestClientOptsRefusesBadConfig(t *testing.T) {
	for name, cfg := range map[string]kafkaconn.Config{
		"no brokers":    {},
		"unknown SASL":  {Brokers: []string{"localhost:9092"}, SASL: kafkaconn.SASLConfig{Mechanism: "GSSAPI", Username: "u"}},
		"missing CA":    {Brokers: []string{"localhost:9092"}, TLS: kafkaconn.TLSConfig{Enable: true, CAFile: "/nonexistent/ca.pem"}},
		"SASL, no user": {Brokers: []string{"localhost:9092"}, SASL: kafkaconn.SASLConfig{Mechanism: "PLAIN"}},
	} {
		if _, err := cfg.ClientOpts(); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
}
