package kafkaconn

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/segmentio/kafka-go"
	"github.com/segmentio/kafka-go/sasl"
	"github.com/segmentio/kafka-go/sasl/plain"
	"github.com/segmentio/kafka-go/sasl/scram"
)

// Config says how to connect to Kafka. The zero value (apart from Brokers)
// is a plaintext, unauthenticated connection.
type Config struct {
	// Brokers are the bootstrap addresses, host:port. Required.
	Brokers []string
	// ClientID is sent to the brokers; default "tokentrail".
	ClientID string
	// TLS enables TLS when Enable is set.
	TLS TLSConfig
	// SASL enables authentication when Mechanism is set.
	SASL SASLConfig
	// DialTimeout bounds connection set-up; default 10s.
	DialTimeout time.Duration
}

// TLSConfig configures TLS to the brokers.
type TLSConfig struct {
	Enable bool
	// CAFile is a PEM bundle of trusted CAs; "" = the system pool.
	CAFile string
	// CertFile and KeyFile are a client certificate for mutual TLS.
	CertFile, KeyFile string
	// InsecureSkipVerify disables server verification (testing only).
	InsecureSkipVerify bool
}

// SASLConfig configures SASL authentication.
type SASLConfig struct {
	// Mechanism is "" (none), "PLAIN", "SCRAM-SHA-256" or "SCRAM-SHA-512".
	Mechanism string
	Username  string
	// Password comes from the environment or a file, never a flag value
	// that shows in process listings.
	Password string
}

// DefaultConfiguration returns the defaults for a local broker.
func DefaultConfiguration() Config {
	return Config{Brokers: []string{"127.0.0.1:9092"}, ClientID: "tokentrail", DialTimeout: 10 * time.Second}
}

// ErrNoBrokers is returned when Config.Brokers is empty.
var ErrNoBrokers = errors.New("kafkaconn: no brokers configured")

// Validate reports the first invalid setting.
func (c Config) Validate() error {
	if len(c.Brokers) == 0 {
		return ErrNoBrokers
	}
	for _, b := range c.Brokers {
		host, port, err := net.SplitHostPort(b)
		if err != nil || host == "" {
			return fmt.Errorf("kafkaconn: broker %q is not host:port", b)
		}
		if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 {
			return fmt.Errorf("kafkaconn: broker %q: port %q is not a number from 1 to 65535", b, port)
		}
	}
	switch strings.ToUpper(c.SASL.Mechanism) {
	case "", "PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512":
	default:
		return fmt.Errorf("kafkaconn: SASL mechanism %q is not one of PLAIN, SCRAM-SHA-256, SCRAM-SHA-512", c.SASL.Mechanism)
	}
	if c.SASL.Mechanism != "" && c.SASL.Username == "" {
		return fmt.Errorf("kafkaconn: SASL mechanism %s needs a username", c.SASL.Mechanism)
	}
	return nil
}

// ParseBrokers splits a comma-separated broker list, dropping blanks.
func ParseBrokers(s string) []string {
	var out []string
	for _, b := range strings.Split(s, ",") {
		if b = strings.TrimSpace(b); b != "" {
			out = append(out, b)
		}
	}
	return out
}

func (c Config) clientID() string {
	if c.ClientID == "" {
		return "tokentrail"
	}
	return c.ClientID
}

func (c Config) dialTimeout() time.Duration {
	if c.DialTimeout <= 0 {
		return 10 * time.Second
	}
	return c.DialTimeout
}

func (c Config) tlsConfig() (*tls.Config, error) {
	if !c.TLS.Enable {
		return nil, nil
	}
	cfg := &tls.Config{MinVersion: tls.VersionTLS12, InsecureSkipVerify: c.TLS.InsecureSkipVerify} //nolint:gosec // opt-in for tests
	if c.TLS.CAFile != "" {
		pem, err := os.ReadFile(c.TLS.CAFile)
		if err != nil {
			return nil, fmt.Errorf("kafkaconn: read CA file: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("kafkaconn: CA file %s holds no PEM certificate", c.TLS.CAFile)
		}
		cfg.RootCAs = pool
	}
	if c.TLS.CertFile != "" || c.TLS.KeyFile != "" {
		cert, err := tls.LoadX509KeyPair(c.TLS.CertFile, c.TLS.KeyFile)
		if err != nil {
			return nil, fmt.Errorf("kafkaconn: load client certificate: %w", err)
		}
		cfg.Certificates = []tls.Certificate{cert}
	}
	return cfg, nil
}

func (c Config) mechanism() (sasl.Mechanism, error) {
	switch strings.ToUpper(c.SASL.Mechanism) {
	case "":
		return nil, nil
	case "PLAIN":
		return plain.Mechanism{Username: c.SASL.Username, Password: c.SASL.Password}, nil
	case "SCRAM-SHA-256":
		return scram.Mechanism(scram.SHA256, c.SASL.Username, c.SASL.Password)
	case "SCRAM-SHA-512":
		return scram.Mechanism(scram.SHA512, c.SASL.Username, c.SASL.Password)
	}
	return nil, fmt.Errorf("kafkaconn: unknown SASL mechanism %q", c.SASL.Mechanism)
}

// Transport returns a kafka-go transport for Writers and Clients.
func (c Config) Transport() (*kafka.Transport, error) {
	if err := c.Validate(); err != nil {
		return nil, err
	}
	t, err := c.tlsConfig()
	if err != nil {
		return nil, err
	}
	m, err := c.mechanism()
	if err != nil {
		return nil, err
	}
	return &kafka.Transport{ClientID: c.clientID(), TLS: t, SASL: m, DialTimeout: c.dialTimeout(), MetadataTTL: 30 * time.Second}, nil
}

// Dialer returns a kafka-go dialer (Ping uses it).
func (c Config) Dialer() (*kafka.Dialer, error) {
	if err := c.Validate(); err != nil {
		return nil, err
	}
	t, err := c.tlsConfig()
	if err != nil {
		return nil, err
	}
	m, err := c.mechanism()
	if err != nil {
		return nil, err
	}
	return &kafka.Dialer{ClientID: c.clientID(), TLS: t, SASLMechanism: m, Timeout: c.dialTimeout(), DualStack: true}, nil
}
