package main

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"
	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	"github.com/tokentrail/tokentrail/chconn"
)

// ClickHouseFlags say how to reach ClickHouse: the flags and variables of
// the ingest command, and how long a report may take.
type ClickHouseFlags struct {
	chconn.Flags
	QueryTimeout time.Duration `help:"Longest a report may take (also the read timeout unless the DSN sets read_timeout)." default:"2m" env:"TOKENTRAIL_QUERY_TIMEOUT"`
}

// config turns the flags into a chconn configuration; a bad flag is a usage
// error.
func (f *ClickHouseFlags) config() (chconn.Config, error) {
	if f.QueryTimeout <= 0 {
		return chconn.Config{}, usagef("--query-timeout: must be positive")
	}
	cfg, err := f.Config()
	if err != nil {
		return cfg, usagef("%v", err)
	}
	cfg.ReadTimeout = f.QueryTimeout
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
		return nil, pingError(cfg, err)
	}
	return conn, nil
}

// ClickHouse error codes that mean the flags are wrong, not the server.
const (
	chUnknownDatabase        = 81
	chUnknownUser            = 192
	chWrongPassword          = 193
	chAuthenticationFailed   = 516
	chRequiredPasswordAbsent = 194
)

// pingError says why the server did not accept the connection: a wrong
// user or password and a missing database are bad flags (exit 2); anything
// else is a server that does not answer.
func pingError(cfg chconn.Config, err error) error {
	dsn := chconn.Redact(cfg.DSN)
	var ex *clickhouse.Exception
	if errors.As(err, &ex) {
		switch ex.Code {
		case chUnknownDatabase:
			return usagef("--clickhouse-dsn: %s: database %s does not exist (ingest sink or ingest migrate creates it)", dsn, cfg.Database())
		case chUnknownUser, chWrongPassword, chAuthenticationFailed, chRequiredPasswordAbsent:
			return usagef("--clickhouse-dsn: %s: ClickHouse refused the user or password (check CLICKHOUSE_PASSWORD or --clickhouse-password-file): %s", dsn, ex.Message)
		}
		return fmt.Errorf("ClickHouse %s refused the connection: %w", dsn, err)
	}
	return fmt.Errorf("ClickHouse %s does not answer: %w", dsn, err)
}
