package main

import (
	"context"
	"io/fs"
	"strings"
	"testing"
	"time"

	"github.com/tokentrail/tokentrail/internal/chtest"
	"github.com/tokentrail/tokentrail/schema/migrate"
	"github.com/tokentrail/tokentrail/schema/migrations"
)

var schemaTables = []string{"audit_events", "tokens", "token_changes", "settings_changes", "collection_coverage"}

// `ingest migrate` creates the database and the tables; run again it is a
// no-op.
func testMigrateTwice(t *testing.T, ch *chtest.Server) {
	e := newSinkEnv(t, ch)
	code, stdout, stderr := ingestCLI(e.args("migrate")...)
	if code != 0 || !strings.Contains(stdout, "applied 0001_init.sql") {
		t.Fatalf("first migrate: exit %d, stdout %q, stderr %s", code, stdout, stderr)
	}
	for _, table := range schemaTables {
		e.count("SELECT count() FROM " + table) // fails the test when missing
	}
	code, stdout, stderr = ingestCLI(e.args("migrate")...)
	if code != 0 || strings.TrimSpace(stdout) != "schema up to date" {
		t.Fatalf("second migrate: exit %d, stdout %q, stderr %s; want a no-op", code, stdout, stderr)
	}
	files, err := fs.Glob(migrations.FS, "*.sql")
	if err != nil {
		t.Fatal(err)
	}
	if n := e.count("SELECT count() FROM schema_migrations"); n != uint64(len(files)) {
		t.Errorf("schema_migrations holds %d rows after two runs, want %d (one per migration)", n, len(files))
	}
}

// A database where an earlier run died after creating some tables.
func testMigratePartial(t *testing.T, ch *chtest.Server) {
	e := newSinkEnv(t, ch)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := ch.Conn(t, "").Exec(ctx, "CREATE DATABASE "+e.db); err != nil {
		t.Fatal(err)
	}
	migs, err := migrate.Load(migrations.FS)
	if err != nil {
		t.Fatal(err)
	}
	for _, stmt := range migs[0].Statements[:2] {
		if err := e.conn().Exec(ctx, stmt); err != nil {
			t.Fatal(err)
		}
	}
	code, stdout, stderr := ingestCLI(e.args("migrate")...)
	if code != 0 || !strings.Contains(stdout, "applied 0001_init.sql") {
		t.Fatalf("migrate on a partial schema: exit %d, stdout %q, stderr %s", code, stdout, stderr)
	}
	for _, table := range schemaTables {
		e.count("SELECT count() FROM " + table)
	}
}
