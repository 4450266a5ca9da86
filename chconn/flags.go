package chconn

import (
	"errors"
	"fmt"
	"os"
	"strings"
)

// Flags are the command-line flags and environment variables that say how
// to reach ClickHouse (kong struct tags). The ingest and report commands
// embed them, so both take the same names.
type Flags struct {
	ClickHouseDSN                   string `name:"clickhouse-dsn" help:"ClickHouse native-protocol DSN, clickhouse://user@host:9000/database (the database is required; ingest sink and migrate create it if missing, report only reads it)." default:"clickhouse://default:@127.0.0.1:9000/tokentrail" env:"CLICKHOUSE_DSN"`
	ClickHouseUser                  string `name:"clickhouse-user" help:"ClickHouse user (default: the DSN's)." env:"CLICKHOUSE_USER"`
	ClickHousePasswordFile          string `name:"clickhouse-password-file" help:"File holding the ClickHouse password (or set CLICKHOUSE_PASSWORD)." type:"existingfile" env:"CLICKHOUSE_PASSWORD_FILE" placeholder:"FILE"`
	ClickHouseTLS                   bool   `name:"clickhouse-tls" help:"Connect to ClickHouse with TLS." env:"CLICKHOUSE_TLS"`
	ClickHouseTLSCAFile             string `name:"clickhouse-tls-ca-file" help:"PEM CA bundle for ClickHouse TLS (default: system roots)." type:"existingfile" env:"CLICKHOUSE_TLS_CA_FILE" placeholder:"FILE"`
	ClickHouseTLSCertFile           string `name:"clickhouse-tls-cert-file" help:"Client certificate for ClickHouse mutual TLS." type:"existingfile" env:"CLICKHOUSE_TLS_CERT_FILE" placeholder:"FILE"`
	ClickHouseTLSKeyFile            string `name:"clickhouse-tls-key-file" help:"Client key for ClickHouse mutual TLS." type:"existingfile" env:"CLICKHOUSE_TLS_KEY_FILE" placeholder:"FILE"`
	ClickHouseTLSInsecureSkipVerify bool   `name:"clickhouse-tls-insecure-skip-verify" help:"Do not verify the server's certificate (testing only)." env:"CLICKHOUSE_TLS_INSECURE_SKIP_VERIFY"`
}

// FlagError says which flag made Flags.Config fail.
type FlagError struct {
	Flag string // e.g. "--clickhouse-dsn"
	Err  error
}

func (e *FlagError) Error() string { return e.Flag + ": " + e.Err.Error() }
func (e *FlagError) Unwrap() error { return e.Err }

// Config turns the flags into a Config with DefaultConfiguration's timeouts
// and checks it. The password comes from --clickhouse-password-file or else
// CLICKHOUSE_PASSWORD, never from a flag (flags show in process listings).
// Errors are *FlagError.
func (f Flags) Config() (Config, error) {
	cfg := DefaultConfiguration()
	cfg.DSN, cfg.Username = f.ClickHouseDSN, f.ClickHouseUser
	cfg.TLS = TLSConfig{Enable: f.ClickHouseTLS || f.ClickHouseTLSCAFile != "", CAFile: f.ClickHouseTLSCAFile,
		CertFile: f.ClickHouseTLSCertFile, KeyFile: f.ClickHouseTLSKeyFile, InsecureSkipVerify: f.ClickHouseTLSInsecureSkipVerify}
	cfg.Password = os.Getenv("CLICKHOUSE_PASSWORD")
	if f.ClickHousePasswordFile != "" {
		b, err := os.ReadFile(f.ClickHousePasswordFile)
		if err != nil {
			return cfg, &FlagError{Flag: "--clickhouse-password-file", Err: err}
		}
		cfg.Password = strings.TrimRight(string(b), "\r\n")
	}
	opts, err := cfg.Options()
	if err != nil {
		if errors.Is(err, ErrNoDSN) || errors.Is(err, ErrBadDSN) {
			return cfg, &FlagError{Flag: "--clickhouse-dsn", Err: err}
		}
		return cfg, &FlagError{Flag: "--clickhouse-tls-*", Err: err}
	}
	if opts.Auth.Database == "" {
		// Without one, ClickHouse uses the server's default database: the
		// schema would land among whatever else lives there.
		return cfg, &FlagError{Flag: "--clickhouse-dsn", Err: fmt.Errorf("%w: %s names no database: want clickhouse://host:9000/tokentrail", ErrBadDSN, Redact(cfg.DSN))}
	}
	return cfg, nil
}
