package chconn

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"
	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
)

// Config says how to connect to ClickHouse. Zero values are documented
// defaults; only DSN is required.
type Config struct {
	// DSN is clickhouse://[user[:password]@]host:port[,host:port...]/database[?params].
	// An empty database means the user's default database. Params are
	// clickhouse-go's (dial_timeout, read_timeout, compress, secure, ...).
	DSN string
	// Username, when set, replaces the DSN's user.
	Username string
	// Password, when set, replaces the DSN's password. Read it from the
	// environment or a file: a password in a flag shows in process listings.
	Password string
	// TLS, when Enable is set, replaces the DSN's secure/skip_verify settings.
	TLS TLSConfig
	// DialTimeout bounds connection set-up when the DSN has no
	// dial_timeout; default 10s.
	DialTimeout time.Duration
	// ReadTimeout bounds each server read when the DSN has no read_timeout;
	// default 60s (the driver's own default, 300s, hides a dead server for
	// five minutes).
	ReadTimeout time.Duration
}

// TLSConfig configures TLS to the server.
type TLSConfig struct {
	Enable bool
	// CAFile is a PEM bundle of trusted CAs; "" = the system pool.
	CAFile string
	// CertFile and KeyFile are a client certificate for mutual TLS.
	CertFile, KeyFile string
	// ServerName overrides the name checked in the server's certificate.
	ServerName string
	// InsecureSkipVerify disables server verification (testing only).
	InsecureSkipVerify bool
}

// DefaultDSN is the DSN of a local server and the tokentrail database.
const DefaultDSN = "clickhouse://default:@127.0.0.1:9000/tokentrail"

// DefaultConfiguration returns the defaults for a local server.
func DefaultConfiguration() Config {
	return Config{DSN: DefaultDSN, DialTimeout: 10 * time.Second, ReadTimeout: 60 * time.Second}
}

// Errors returned by Options and Open.
var (
	// ErrNoDSN is returned when Config.DSN is empty.
	ErrNoDSN = errors.New("chconn: no DSN configured")
	// ErrBadDSN wraps every reason a DSN is rejected.
	ErrBadDSN = errors.New("chconn: invalid DSN")
)

// Options turns the configuration into clickhouse-go options. The error
// never contains the password.
func (c Config) Options() (*clickhouse.Options, error) {
	if strings.TrimSpace(c.DSN) == "" {
		return nil, ErrNoDSN
	}
	if !strings.HasPrefix(c.DSN, "clickhouse://") {
		return nil, fmt.Errorf("%w: %s: want clickhouse://host:port/database (the native protocol)", ErrBadDSN, Redact(c.DSN))
	}
	opts, err := clickhouse.ParseDSN(c.DSN)
	if err != nil { // clickhouse-go redacts credentials in its parse errors
		return nil, fmt.Errorf("%w: %v", ErrBadDSN, err)
	}
	for _, a := range opts.Addr {
		if !strings.Contains(a, ":") {
			return nil, fmt.Errorf("%w: %s: address %q is not host:port", ErrBadDSN, Redact(c.DSN), a)
		}
	}
	if strings.ContainsAny(opts.Auth.Database, "`\\/") {
		return nil, fmt.Errorf("%w: %s: database name %q", ErrBadDSN, Redact(c.DSN), opts.Auth.Database)
	}
	if c.Username != "" {
		opts.Auth.Username = c.Username
	}
	if c.Password != "" {
		opts.Auth.Password = c.Password
	}
	if opts.DialTimeout == 0 {
		opts.DialTimeout = orDefault(c.DialTimeout, 10*time.Second)
	}
	if opts.ReadTimeout == 0 {
		opts.ReadTimeout = orDefault(c.ReadTimeout, 60*time.Second)
	}
	if c.TLS.Enable {
		t, err := c.TLS.config()
		if err != nil {
			return nil, err
		}
		opts.TLS = t
	}
	return opts, nil
}

// Database is the DSN's database ("" when the DSN names none or is invalid).
func (c Config) Database() string {
	opts, err := c.Options()
	if err != nil {
		return ""
	}
	return opts.Auth.Database
}

// Open connects, creates the DSN's database when missing, and checks that
// the server answers. Close the connection when done.
func Open(ctx context.Context, c Config) (driver.Conn, error) {
	opts, err := c.Options()
	if err != nil {
		return nil, err
	}
	if db := opts.Auth.Database; db != "" && db != "default" {
		// Connect without the database (it may not exist yet) to create it.
		boot := *opts
		boot.Auth.Database = ""
		if err := exec(ctx, &boot, "CREATE DATABASE IF NOT EXISTS "+QuoteIdent(db)); err != nil {
			return nil, fmt.Errorf("chconn: create database %s on %v: %w", db, opts.Addr, err)
		}
	}
	return connect(ctx, opts)
}

// connect opens opts and checks that the server answers.
func connect(ctx context.Context, opts *clickhouse.Options) (driver.Conn, error) {
	conn, err := clickhouse.Open(opts)
	if err != nil {
		return nil, fmt.Errorf("chconn: open %v: %w", opts.Addr, err)
	}
	if err := conn.Ping(ctx); err != nil {
		conn.Close()
		return nil, fmt.Errorf("chconn: ping %v: %w", opts.Addr, err)
	}
	return conn, nil
}

// OpenHost connects to one server, addr host:port (for example one replica
// of a cluster, as system.clusters names it), with the configuration's
// credentials, TLS, timeouts and database, and checks that it answers.
func OpenHost(ctx context.Context, c Config, addr string) (driver.Conn, error) {
	opts, err := c.Options()
	if err != nil {
		return nil, err
	}
	opts.Addr = []string{addr}
	return connect(ctx, opts)
}

func exec(ctx context.Context, opts *clickhouse.Options, query string) error {
	conn, err := clickhouse.Open(opts)
	if err != nil {
		return err
	}
	defer conn.Close()
	return conn.Exec(ctx, query)
}

// QuoteIdent quotes a database or table name for ClickHouse SQL.
func QuoteIdent(name string) string {
	r := strings.NewReplacer("\\", "\\\\", "`", "\\`")
	return "`" + r.Replace(name) + "`"
}

// Redact returns the DSN with its password (in the user info or the
// password parameter) masked, for logs and error messages.
func Redact(dsn string) string {
	u, err := url.Parse(dsn)
	if err != nil {
		return "<unparsable DSN>"
	}
	if u.User != nil {
		if _, has := u.User.Password(); has {
			u.User = url.UserPassword(u.User.Username(), "xxxxx")
		}
	}
	if q := u.Query(); q.Has("password") {
		q.Set("password", "xxxxx")
		u.RawQuery = q.Encode()
	}
	return u.String()
}

func (t TLSConfig) config() (*tls.Config, error) {
	cfg := &tls.Config{MinVersion: tls.VersionTLS12, ServerName: t.ServerName, InsecureSkipVerify: t.InsecureSkipVerify} //nolint:gosec // opt-in for tests
	if t.CAFile != "" {
		pem, err := os.ReadFile(t.CAFile)
		if err != nil {
			return nil, fmt.Errorf("chconn: read CA file: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("chconn: CA file %s holds no PEM certificate", t.CAFile)
		}
		cfg.RootCAs = pool
	}
	if t.CertFile != "" || t.KeyFile != "" {
		cert, err := tls.LoadX509KeyPair(t.CertFile, t.KeyFile)
		if err != nil {
			return nil, fmt.Errorf("chconn: load client certificate: %w", err)
		}
		cfg.Certificates = []tls.Certificate{cert}
	}
	return cfg, nil
}

func orDefault(d, def time.Duration) time.Duration {
	if d > 0 {
		return d
	}
	return def
}
