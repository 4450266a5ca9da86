package main

import (
	"context"
	"path/filepath"
	"strings"
	"testing"

	"github.com/tokentrail/tokentrail/internal/chtest"
	"github.com/tokentrail/tokentrail/queries/querytest"
)

// Issue 10, case 5: a report on a tenant without data, or on a database
// without tokentrail's tables, is exit 2 naming what exists instead of a
// clean-looking empty report; a stale collection is said in the report.
func TestReportOnNothingExit2(t *testing.T) {
	s := chtest.Start(t)
	db, conn := querytest.NewDatabase(t, s)
	if err := querytest.Load(context.Background(), conn, querytest.Scenario()); err != nil {
		t.Fatal(err)
	}
	dsn := s.DSN(db)
	for _, args := range [][]string{
		{"--clickhouse-dsn", dsn, "run", "token-usage", "--tenant", "demo"},
		{"--clickhouse-dsn", dsn, "pack", "--tenant", "demo"},
	} {
		code, out, errOut := cli(t, args...)
		want := `--tenant: tenant "demo" has no data (tenants with data: default, other)`
		if code != 2 || !strings.Contains(errOut, want) || out != "" {
			t.Errorf("%v: exit %d, stdout %d bytes, stderr %q; want exit 2 and %q", args[2:], code, len(out), errOut, want)
		}
	}

	empty := s.NewDatabase()
	if err := s.Conn(t, "").Exec(context.Background(), "CREATE DATABASE "+empty); err != nil {
		t.Fatal(err)
	}
	code, _, errOut := cli(t, "--clickhouse-dsn", s.DSN(empty), "run", "token-usage")
	if code != 2 || !strings.Contains(errOut, "--clickhouse-dsn: the database has no tokentrail tables") {
		t.Errorf("database without tables: exit %d, stderr %q", code, errOut)
	}
	code, _, errOut = cli(t, "--clickhouse-dsn", s.DSN("missing_db"), "run", "token-usage")
	if code != 2 || !strings.Contains(errOut, "database missing_db does not exist") {
		t.Errorf("missing database: exit %d, stderr %q", code, errOut)
	}

	// The scenario's newest record is days before a period ending later.
	code, out, errOut := cli(t, "--clickhouse-dsn", dsn, "run", "token-usage", "--until", "2025-08-01")
	if code != 0 || !strings.Contains(out, "Note: The newest record of tenant default was collected at") ||
		!strings.Contains(errOut, "report: note:") {
		t.Errorf("stale collection: exit %d, stderr %q, stdout:\n%s", code, errOut, out)
	}
}

// An unwritable --out names the file asked for, not a temporary file.
func TestOutErrorNamesThePath(t *testing.T) {
	dsn := scenarioDSN(t)
	out := filepath.Join(t.TempDir(), "missing-dir", "x.txt")
	code, _, errOut := cli(t, "--clickhouse-dsn", dsn, "run", "stale-tokens", "--out", out)
	if code != 1 || !strings.Contains(errOut, "--out: cannot write "+out+": ") || strings.Contains(errOut, ".x.txt.") {
		t.Errorf("exit %d, stderr %q", code, errOut)
	}
}
