package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/ClickHouse/clickhouse-go/v2"
	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	"github.com/tokentrail/tokentrail/chconn"
)

// The demo resets only what it created, which it marks: a table in its
// ClickHouse database and a file in its state directory. A database or
// directory that holds anything else is refused (exit 2), so that a
// production DSN or directory given to the demo by mistake is never
// dropped.
const (
	demoMarkerTable = "tokentrail_demo_marker"
	demoMarkerFile  = ".tokentrail-demo"
)

// openDemoDatabase connects to the demo's database, creating and marking
// it when missing; with reset it drops and recreates a database the demo
// marked earlier.
func openDemoDatabase(ctx context.Context, cfg chconn.Config, reset bool, log io.Writer) (driver.Conn, error) {
	opts, err := cfg.Options()
	if err != nil {
		return nil, usagef("--clickhouse-dsn: %v", err)
	}
	db := opts.Auth.Database
	if db == "" || db == "default" || db == "system" {
		return nil, usagef("--clickhouse-dsn: %s: the demo needs a database of its own (e.g. .../tokentrail_demo), not %q", chconn.Redact(cfg.DSN), db)
	}
	boot := *opts
	boot.Auth.Database = ""
	srv, err := clickhouse.Open(&boot)
	if err == nil {
		err = srv.Ping(ctx)
	}
	if err != nil {
		return nil, fmt.Errorf("ClickHouse at %s is not reachable (start one with deploy/local/clickhouse.sh start): %w", chconn.Redact(cfg.DSN), err)
	}
	defer srv.Close()
	var tables []string
	rows, err := srv.Query(ctx, "SELECT name FROM system.tables WHERE database = ?", db)
	if err != nil {
		return nil, fmt.Errorf("list tables of %s: %w", db, err)
	}
	for rows.Next() {
		var name string
		if err := rows.Scan(&name); err != nil {
			rows.Close()
			return nil, fmt.Errorf("list tables of %s: %w", db, err)
		}
		tables = append(tables, name)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list tables of %s: %w", db, err)
	}
	marked := false
	for _, t := range tables {
		marked = marked || t == demoMarkerTable
	}
	if len(tables) > 0 && !marked {
		sort.Strings(tables)
		if len(tables) > 5 {
			tables = append(tables[:5], "...")
		}
		return nil, usagef("--clickhouse-dsn: database %s holds tables the demo did not create (%s): the demo resets its database, "+
			"so it needs one of its own; name another database (or drop this one yourself if it is an old demo's)", db, strings.Join(tables, ", "))
	}
	if marked && reset {
		if err := srv.Exec(ctx, "DROP DATABASE IF EXISTS "+chconn.QuoteIdent(db)); err != nil {
			return nil, fmt.Errorf("reset demo database %s: %w", db, err)
		}
		fmt.Fprintf(log, "demo: reset: dropped database %s (created by an earlier demo)\n", db)
	}
	if err := srv.Exec(ctx, "CREATE DATABASE IF NOT EXISTS "+chconn.QuoteIdent(db)); err != nil {
		return nil, fmt.Errorf("create demo database %s: %w", db, err)
	}
	if err := srv.Exec(ctx, "CREATE TABLE IF NOT EXISTS "+chconn.QuoteIdent(db)+"."+demoMarkerTable+
		" (note String) ENGINE = TinyLog"); err != nil {
		return nil, fmt.Errorf("mark demo database %s: %w", db, err)
	}
	return chconn.Open(ctx, cfg)
}

// prepareDemoStateDir makes dir the demo's: it may hold only what the
// demo puts there (its marker, kafka/, checkpoints/, review-pack.html);
// with reset, kafka/ and checkpoints/ are removed. A directory holding
// anything else is refused.
func prepareDemoStateDir(dir string, reset bool, log io.Writer) error {
	entries, err := os.ReadDir(dir)
	if err != nil && !os.IsNotExist(err) {
		return usagef("--state-dir: %v", err)
	}
	var foreign []string
	for _, e := range entries {
		switch e.Name() {
		case demoMarkerFile, "kafka", "checkpoints", "review-pack.html":
		default:
			foreign = append(foreign, e.Name())
		}
	}
	if len(foreign) > 0 {
		if len(foreign) > 5 {
			foreign = append(foreign[:5], "...")
		}
		return usagef("--state-dir: %s holds files the demo did not create (%s): name a new or empty directory",
			dir, strings.Join(foreign, ", "))
	}
	if reset && len(entries) > 0 {
		for _, d := range []string{"kafka", "checkpoints"} {
			if err := os.RemoveAll(filepath.Join(dir, d)); err != nil {
				return fmt.Errorf("reset %s: %w", filepath.Join(dir, d), err)
			}
		}
		fmt.Fprintf(log, "demo: reset: removed the embedded Kafka's data and the checkpoints under %s\n", dir)
	}
	if err := os.MkdirAll(filepath.Join(dir, "kafka"), 0o755); err != nil {
		return usagef("--state-dir: %v", err)
	}
	if err := os.WriteFile(filepath.Join(dir, demoMarkerFile), []byte("created by ingest demo; --reset removes kafka/ and checkpoints/ here\n"), 0o644); err != nil {
		return usagef("--state-dir: %v", err)
	}
	return nil
}
