package main

import (
	"context"
	"io"
	"log/slog"
	"os"
	"strings"
	"time"

	"github.com/alecthomas/kong"

	"github.com/tokentrail/tokentrail/kafkaconn"
	"github.com/tokentrail/tokentrail/progress"
	"github.com/tokentrail/tokentrail/telemetry"
)

// Globals are the flags every command accepts.
type Globals struct {
	Config      kong.ConfigFlag `help:"YAML file whose keys are flag names (precedence: flag > env > file)." type:"existingfile" placeholder:"FILE"`
	LogFormat   string          `help:"Log format: json or text." enum:"json,text" default:"text" env:"TOKENTRAIL_LOG_FORMAT"`
	LogLevel    string          `help:"Log level: debug, info, warn or error." enum:"debug,info,warn,error" default:"info" env:"TOKENTRAIL_LOG_LEVEL"`
	MetricsAddr string          `help:"Serve Prometheus metrics, /healthz and /readyz on this address (empty: off)." env:"TOKENTRAIL_METRICS_ADDR" placeholder:"HOST:PORT"`
	// ShutdownTimeout bounds the flush and commit after SIGTERM/SIGINT.
	ShutdownTimeout time.Duration `help:"After SIGTERM/SIGINT, how long to flush and commit before giving up." default:"${shutdown_timeout}" env:"TOKENTRAIL_SHUTDOWN_TIMEOUT"`

	stdout, stderr io.Writer
}

// Logger builds the slog logger the flags ask for, writing to stderr.
func (g *Globals) Logger() *slog.Logger {
	var level slog.Level
	_ = level.UnmarshalText([]byte(g.LogLevel))
	opts := &slog.HandlerOptions{Level: level, ReplaceAttr: durationText}
	w := g.stderr
	if w == nil || w == os.Stderr {
		// Log lines go above a backfill's progress bar, not glued to it.
		w = progress.Writer(os.Stderr)
	}
	if g.LogFormat == "json" {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}

// durationText writes durations as text (1m30s) in every log format: the
// JSON handler would write nanoseconds, and other attributes are strings.
func durationText(_ []string, a slog.Attr) slog.Attr {
	if a.Value.Kind() == slog.KindDuration {
		a.Value = slog.StringValue(a.Value.Duration().String())
	}
	return a
}

// KafkaFlags are the Kafka connection flags shared by collect, sink, run and
// demo.
type KafkaFlags struct {
	KafkaBrokers               string `help:"Kafka bootstrap brokers, comma-separated host:port." env:"KAFKA_BROKERS" placeholder:"HOST:PORT,..."`
	KafkaClientID              string `help:"Client id sent to Kafka." default:"${kafka_client_id}" env:"KAFKA_CLIENT_ID"`
	KafkaTLS                   bool   `help:"Connect to Kafka with TLS." env:"KAFKA_TLS"`
	KafkaTLSCAFile             string `name:"kafka-tls-ca-file" help:"PEM CA bundle for Kafka TLS (default: system roots)." type:"existingfile" env:"KAFKA_TLS_CA_FILE" placeholder:"FILE"`
	KafkaTLSCertFile           string `help:"Client certificate for Kafka mutual TLS." type:"existingfile" env:"KAFKA_TLS_CERT_FILE" placeholder:"FILE"`
	KafkaTLSKeyFile            string `help:"Client key for Kafka mutual TLS." type:"existingfile" env:"KAFKA_TLS_KEY_FILE" placeholder:"FILE"`
	KafkaTLSInsecureSkipVerify bool   `help:"Do not verify the brokers' certificates (testing only)." env:"KAFKA_TLS_INSECURE_SKIP_VERIFY"`
	KafkaSASLMechanism         string `help:"SASL mechanism: PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512 (empty: none)." enum:",PLAIN,SCRAM-SHA-256,SCRAM-SHA-512" default:"" env:"KAFKA_SASL_MECHANISM"`
	KafkaSASLUsername          string `help:"SASL username." env:"KAFKA_SASL_USERNAME"`
	KafkaSASLPasswordFile      string `help:"File holding the SASL password (or set KAFKA_SASL_PASSWORD)." type:"existingfile" env:"KAFKA_SASL_PASSWORD_FILE" placeholder:"FILE"`
}

// KafkaConfig turns the flags into a connection config. The SASL password
// comes from KAFKA_SASL_PASSWORD or --kafka-sasl-password-file only.
func (k KafkaFlags) KafkaConfig() (kafkaconn.Config, error) {
	cfg := kafkaconn.Config{
		Brokers:  kafkaconn.ParseBrokers(k.KafkaBrokers),
		ClientID: k.KafkaClientID,
		TLS: kafkaconn.TLSConfig{Enable: k.KafkaTLS || k.KafkaTLSCAFile != "", CAFile: k.KafkaTLSCAFile,
			CertFile: k.KafkaTLSCertFile, KeyFile: k.KafkaTLSKeyFile, InsecureSkipVerify: k.KafkaTLSInsecureSkipVerify},
		SASL: kafkaconn.SASLConfig{Mechanism: k.KafkaSASLMechanism, Username: k.KafkaSASLUsername},
	}
	if len(cfg.Brokers) == 0 {
		return cfg, usagef("--kafka-brokers: required (or set KAFKA_BROKERS)")
	}
	if cfg.SASL.Mechanism != "" {
		pw, err := secretFromEnvOrFile("KAFKA_SASL_PASSWORD", k.KafkaSASLPasswordFile, "--kafka-sasl-password-file")
		if err != nil {
			return cfg, err
		}
		cfg.SASL.Password = pw
	}
	if err := cfg.Validate(); err != nil {
		flag := "--kafka-brokers"
		if cfg.SASL.Mechanism != "" && strings.Contains(err.Error(), "SASL") {
			flag = "--kafka-sasl-username"
		}
		return cfg, usagef("%s: %v", flag, err)
	}
	return cfg, nil
}

// secretFromEnvOrFile reads a secret from a file (flag) or else from an
// environment variable. A file's trailing newline is dropped.
func secretFromEnvOrFile(env, file, flag string) (string, error) {
	if file != "" {
		b, err := os.ReadFile(file)
		if err != nil {
			return "", usagef("%s: %v", flag, err)
		}
		return strings.TrimRight(string(b), "\r\n"), nil
	}
	return os.Getenv(env), nil
}

// startTelemetry serves --metrics-addr (nothing when it is empty) and
// returns the server and a function that stops it.
func (g *Globals) startTelemetry(ctx context.Context) (*telemetry.Server, func(), error) {
	tel := telemetry.New(telemetry.Config{Addr: g.MetricsAddr}, g.Logger())
	if err := tel.Start(); err != nil {
		return nil, nil, usagef("--metrics-addr: %v", err)
	}
	return tel, func() {
		sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		_ = tel.Shutdown(sctx)
	}, nil
}
