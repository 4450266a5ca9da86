package kafkaconn

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/sasl"
	kplain "github.com/twmb/franz-go/pkg/sasl/plain"
	kscram "github.com/twmb/franz-go/pkg/sasl/scram"
)

// ClientOpts returns the franz-go (kgo) options that reach the brokers as
// Transport does: seed brokers, client ID, dial timeout, TLS and SASL. The
// sink consumes with kgo (see sink's package documentation for why).
func (c Config) ClientOpts() ([]kgo.Opt, error) {
	if err := c.Validate(); err != nil {
		return nil, err
	}
	t, err := c.tlsConfig()
	if err != nil {
		return nil, err
	}
	opts := []kgo.Opt{kgo.SeedBrokers(c.Brokers...), kgo.ClientID(c.clientID()), kgo.DialTimeout(c.dialTimeout())}
	if t != nil {
		opts = append(opts, kgo.DialTLSConfig(t))
	}
	var m sasl.Mechanism
	switch strings.ToUpper(c.SASL.Mechanism) {
	case "":
	case "PLAIN":
		m = kplain.Auth{User: c.SASL.Username, Pass: c.SASL.Password}.AsMechanism()
	case "SCRAM-SHA-256":
		m = kscram.Auth{User: c.SASL.Username, Pass: c.SASL.Password}.AsSha256Mechanism()
	case "SCRAM-SHA-512":
		m = kscram.Auth{User: c.SASL.Username, Pass: c.SASL.Password}.AsSha512Mechanism()
	default:
		return nil, fmt.Errorf("kafkaconn: unknown SASL mechanism %q", c.SASL.Mechanism)
	}
	if m != nil {
		opts = append(opts, kgo.SASL(m))
	}
	return opts, nil
}

// ClientLogger adapts a slog logger for a kgo client: its warnings and
// errors go through the same per-period summary as SummaryLogger's (a
// broker outage repeats them many times a minute), its info messages (group
// joins, assignments) are logged at debug level, and its debug messages
// (every request) are dropped.
func ClientLogger(log *slog.Logger, period time.Duration) kgo.Logger {
	return &clientLogger{log: log, warn: &summary{log: log, period: period, now: time.Now}}
}

type clientLogger struct {
	log  *slog.Logger
	warn *summary
}

func (l *clientLogger) Level() kgo.LogLevel {
	if l.log.Enabled(context.Background(), slog.LevelDebug) {
		return kgo.LogLevelInfo
	}
	return kgo.LogLevelWarn
}

func (l *clientLogger) Log(level kgo.LogLevel, msg string, keyvals ...any) {
	if level > kgo.LogLevelWarn {
		l.log.Debug("kafka: "+msg, keyvals...)
		return
	}
	var b strings.Builder
	b.WriteString(msg)
	for i := 0; i+1 < len(keyvals); i += 2 {
		fmt.Fprintf(&b, " %v=%v", keyvals[i], keyvals[i+1])
	}
	l.warn.printf("%s", b.String())
}
