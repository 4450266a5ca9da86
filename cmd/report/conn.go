package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"
	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	"github.com/tokentrail/tokentrail/chconn"
)

// ClickHouseFlags say how to reach ClickHouse, with the flag and variable
// names the ingest command uses.
type ClickHouseFlags struct {
	ClickHouseDSN                   string        `name:"clickhouse-dsn" help:"ClickHouse native-protocol DSN: clickhouse://user@host:9000/database." default:"${default_dsn}" env:"CLICKHOUSE_DSN" placeholder:"DSN"`
	ClickHouseUser                  string        `name:"clickhouse-user" help:"ClickHouse user (default: the DSN's)." env:"CLICKHOUSE_USER"`
	ClickHousePasswordFile          string        `name:"clickhouse-password-file" help:"File holding the ClickHouse password (or set CLICKHOUSE_PASSWORD)." type:"existingfile" env:"CLICKHOUSE_PASSWORD_FILE" placeholder:"FILE"`
	ClickHouseTLS                   bool          `name:"clickhouse-tls" help:"Connect to ClickHouse with TLS." env:"CLICKHOUSE_TLS"`
	ClickHouseTLSCAFile             string        `name:"clickhouse-tls-ca-file" help:"PEM CA bundle for ClickHouse TLS (default: system roots)." type:"existingfile" env:"CLICKHOUSE_TLS_CA_FILE" placeholder:"FILE"`
	ClickHouseTLSCertFile           string        `name:"clickhouse-tls-cert-file" help:"Client certificate for ClickHouse mutual TLS." type:"existingfile" env:"CLICKHOUSE_TLS_CERT_FILE" placeholder:"FILE"`
	ClickHouseTLSKeyFile            string        `name:"clickhouse-tls-key-file" help:"Client key for ClickHouse mutual TLS." type:"existingfile" env:"CLICKHOUSE_TLS_KEY_FILE" placeholder:"FILE"`
	ClickHouseTLSInsecureSkipVerify bool          `name:"clickhouse-tls-insecure-skip-verify" help:"Do not verify the server's certificate (testing only)." env:"CLICKHOUSE_TLS_INSECURE_SKIP_VERIFY"`
	QueryTimeout                    time.Duration `help:"Longest a report may take (also the read timeout unless the DSN sets read_timeout)." default:"2m" env:"TOKENTRAIL_QUERY_TIMEOUT"`
}

// config turns the flags into a chconn configuration; the password comes
// from --clickhouse-password-file or CLICKHOUSE_PASSWORD only.
func (f *ClickHouseFlags) config() (chconn.Config, error) {
	cfg := chconn.Config{DSN: f.ClickHouseDSN, Username: f.ClickHouseUser, DialTimeout: 10 * time.Second, ReadTimeout: f.QueryTimeout,
		TLS: chconn.TLSConfig{Enable: f.ClickHouseTLS || f.ClickHouseTLSCAFile != "", CAFile: f.ClickHouseTLSCAFile,
			CertFile: f.ClickHouseTLSCertFile, KeyFile: f.ClickHouseTLSKeyFile, InsecureSkipVerify: f.ClickHouseTLSInsecureSkipVerify}}
	if f.QueryTimeout <= 0 {
		return cfg, usagef("--query-timeout: must be positive")
	}
	if f.ClickHousePasswordFile != "" {
		b, err := os.ReadFile(f.ClickHousePasswordFile)
		if err != nil {
			return cfg, usagef("--clickhouse-password-file: %v", err)
		}
		cfg.Password = strings.TrimRight(string(b), "\r\n")
	} else {
		cfg.Password = os.Getenv("CLICKHOUSE_PASSWORD")
	}
	if _, err := cfg.Options(); err != nil {
		if errors.Is(err, chconn.ErrNoDSN) || errors.Is(err, chconn.ErrBadDSN) {
			return cfg, usagef("--clickhouse-dsn: %v", err)
		}
		return cfg, usagef("--clickhouse-tls-*: %v", err)
	}
	return cfg, nil
}

// open connects and checks that the server answers. Unlike chconn.Open it
// never creates the database: a report only reads.
func (f *ClickHouseFlags) open(ctx context.Context) (driver.Conn, error) {
	cfg, err := f.config()
	if err != nil {
		return nil, err
	}
	opts, _ := cfg.Options() // checked by config
	conn, err := clickhouse.Open(opts)
	if err != nil {
		return nil, fmt.Errorf("open ClickHouse %s: %w", chconn.Redact(cfg.DSN), err)
	}
	pingCtx, cancel := context.WithTimeout(ctx, opts.DialTimeout+5*time.Second)
	defer cancel()
	if err := conn.Ping(pingCtx); err != nil {
		conn.Close()
		return nil, fmt.Errorf("ClickHouse %s does not answer: %w", chconn.Redact(cfg.DSN), err)
	}
	return conn, nil
}
