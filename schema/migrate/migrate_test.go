package migrate_test

import (
	"context"
	"errors"
	"reflect"
	"strings"
	"testing"
	"testing/fstest"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"
	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	"github.com/tokentrail/tokentrail/internal/chtest"
	"github.com/tokentrail/tokentrail/schema/migrate"
	"github.com/tokentrail/tokentrail/schema/migrations"
)

// The columns the report queries read: migrations may add columns, never
// rename or drop these.
var contract = map[string][]string{
	"audit_events": {"tenant", "id", "action", "actor", "description", "timestamp", "token_id", "collected_at", "version", "schema_version"},
	"tokens": {"tenant", "id", "label", "type", "status", "value_fingerprint", "created_timestamp", "expires_timestamp",
		"last_used_timestamp", "revoked_timestamp", "deleted", "collected_at", "version", "schema_version"},
	"token_changes": {"tenant", "id", "label", "type", "status", "value_fingerprint", "created_timestamp", "expires_timestamp",
		"last_used_timestamp", "revoked_timestamp", "deleted", "collected_at", "version", "schema_version"},
	"settings_changes": {"tenant", "max_active_tokens", "tokens_required", "collected_at", "version", "schema_version"},
}

var server *chtest.Server

// TestMigrate runs every test against one server for the package.
func TestMigrate(t *testing.T) {
	server = chtest.Start(t)
	t.Run("EmptyThenNoOp", testApplyEmptyThenNoOp)
	t.Run("PartiallyMigrated", testApplyPartiallyMigrated)
	t.Run("NamedDatabase", testApplyToNamedDatabase)
	t.Run("ResumesAfterFailure", testApplyResumesAfterFailure)
	t.Run("ClusterDDLParses", testClusterDDLParses)
}

// No ZooKeeper runs here, so cluster DDL cannot succeed. What this shows is
// that ClickHouse 18.16 parses every statement the cluster rewrite emits: a
// query that parses fails with "cluster not found" (170), or, for the ALTERs
// sent to each shard without ON CLUSTER, "unknown database" (81); one that
// does not parse fails with a syntax error (62).
func testClusterDDLParses(t *testing.T) {
	conn := server.Conn(t, "")
	queries, err := migrate.ClusterQueries("tokentrail", "no_such_cluster")
	if err != nil {
		t.Fatal(err)
	}
	for _, q := range queries {
		var ex *clickhouse.Exception
		want := int32(170)
		if !strings.Contains(q, " ON CLUSTER ") {
			want = 81
		}
		if err := conn.Exec(ctx(t), q); !errors.As(err, &ex) || ex.Code != want {
			t.Errorf("%s\n  => %v; want code %d (the statement parsed; the cluster or database is unknown)", q, err, want)
		}
	}
}

func newDB(t *testing.T) (driver.Conn, string) {
	t.Helper()
	db := server.NewDatabase()
	conn := server.Conn(t, "")
	if err := conn.Exec(context.Background(), "CREATE DATABASE "+db); err != nil {
		t.Fatal(err)
	}
	return server.Conn(t, db), db
}

func ctx(t *testing.T) context.Context {
	c, cancel := context.WithTimeout(context.Background(), time.Minute)
	t.Cleanup(cancel)
	return c
}

func testApplyEmptyThenNoOp(t *testing.T) {
	conn, db := newDB(t)
	applied, err := migrate.Apply(ctx(t), conn, migrate.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if len(applied) == 0 || applied[0].Name != "0001_init.sql" {
		t.Fatalf("applied = %v", names(applied))
	}
	for table, want := range contract {
		if got := columns(t, conn, db, table); !hasPrefix(got, want) {
			t.Errorf("%s columns = %v, want %v first", table, got, want)
		}
	}
	again, err := migrate.Apply(ctx(t), conn, migrate.Options{})
	if err != nil || len(again) != 0 {
		t.Fatalf("second Apply = %v, %v; want a no-op", names(again), err)
	}
	if n := count(t, conn, "SELECT count() FROM schema_migrations"); n != uint64(len(applied)) {
		t.Errorf("schema_migrations holds %d rows, want %d", n, len(applied))
	}
}

func testApplyPartiallyMigrated(t *testing.T) {
	conn, db := newDB(t)
	migs, err := migrate.Load(migrations.FS)
	if err != nil {
		t.Fatal(err)
	}
	// A run that died after the first statement of 0001: the file's own
	// text, executed as written on a single node.
	if err := conn.Exec(ctx(t), migs[0].Statements[0]); err != nil {
		t.Fatal(err)
	}
	applied, err := migrate.Apply(ctx(t), conn, migrate.Options{Database: db})
	if err != nil {
		t.Fatal(err)
	}
	if len(applied) != len(migs) {
		t.Errorf("applied %v, want all %d", names(applied), len(migs))
	}
	for table := range contract {
		if cols := columns(t, conn, db, table); len(cols) == 0 {
			t.Errorf("table %s missing", table)
		}
	}
}

func testApplyToNamedDatabase(t *testing.T) {
	_, db := newDB(t)
	other := server.Conn(t, "") // current database: default
	if _, err := migrate.Apply(ctx(t), other, migrate.Options{Database: db}); err != nil {
		t.Fatal(err)
	}
	if cols := columns(t, other, db, "audit_events"); len(cols) == 0 {
		t.Error("audit_events not created in the named database")
	}
	if cols := columns(t, other, "default", "audit_events"); len(cols) != 0 {
		t.Error("audit_events created in the connection's database")
	}
}

func testApplyResumesAfterFailure(t *testing.T) {
	conn, db := newDB(t)
	base := "CREATE TABLE IF NOT EXISTS things (id String, version UInt64) ENGINE = ReplacingMergeTree(version) ORDER BY id;\n"
	broken := fstest.MapFS{
		"0001_things.sql": {Data: []byte(base)},
		"0002_more.sql": {Data: []byte("ALTER TABLE things ADD COLUMN note String DEFAULT '';\n" +
			"ALTER TABLE missing ADD COLUMN note String;\n")},
	}
	applied, err := migrate.Apply(ctx(t), conn, migrate.Options{FS: broken})
	var merr *migrate.Error
	if !errors.As(err, &merr) || merr.Migration != "0002_more.sql" || merr.Statement != 2 {
		t.Fatalf("Apply err = %v, want *migrate.Error for 0002_more.sql statement 2", err)
	}
	var ex *clickhouse.Exception
	if !errors.As(err, &ex) || ex.Code != 60 { // UNKNOWN_TABLE
		t.Errorf("error does not unwrap to the server's UNKNOWN_TABLE: %v", err)
	}
	if len(applied) != 1 || applied[0].Version != 1 {
		t.Errorf("applied before the failure = %v, want [0001]", names(applied))
	}
	if n := count(t, conn, "SELECT count() FROM schema_migrations WHERE version = 2"); n != 0 {
		t.Error("failed migration 0002 was recorded")
	}
	// The fix: the ADD COLUMN that already ran is skipped, not an error.
	fixed := fstest.MapFS{
		"0001_things.sql": broken["0001_things.sql"],
		"0002_more.sql": {Data: []byte("ALTER TABLE things ADD COLUMN note String DEFAULT '';\n" +
			"ALTER TABLE things ADD COLUMN extra UInt8;\n")},
		"0003_drop.sql": {Data: []byte("ALTER TABLE things DROP COLUMN extra;\nALTER TABLE things MODIFY COLUMN note String DEFAULT 'n/a';\n")},
	}
	applied, err = migrate.Apply(ctx(t), conn, migrate.Options{FS: fixed})
	if err != nil {
		t.Fatal(err)
	}
	if got := names(applied); !reflect.DeepEqual(got, []string{"0002_more.sql", "0003_drop.sql"}) {
		t.Errorf("applied = %v", got)
	}
	if got := columns(t, conn, db, "things"); !reflect.DeepEqual(got, []string{"id", "version", "note"}) {
		t.Errorf("columns = %v", got)
	}
	// Recorded migrations are never re-run, even if the guard would allow it.
	if again, err := migrate.Apply(ctx(t), conn, migrate.Options{FS: fixed}); err != nil || len(again) != 0 {
		t.Errorf("third Apply = %v, %v", names(again), err)
	}
}

func columns(t *testing.T, conn driver.Conn, db, table string) []string {
	t.Helper()
	rows, err := conn.Query(ctx(t), "SELECT name FROM system.columns WHERE database = ? AND table = ?", db, table)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var s string
		if err := rows.Scan(&s); err != nil {
			t.Fatal(err)
		}
		out = append(out, s)
	}
	return out
}

func count(t *testing.T, conn driver.Conn, q string) uint64 {
	t.Helper()
	var n uint64
	if err := conn.QueryRow(ctx(t), q).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

func names(ms []migrate.Migration) []string {
	var out []string
	for _, m := range ms {
		out = append(out, m.Name)
	}
	return out
}

func hasPrefix(got, want []string) bool {
	return len(got) >= len(want) && reflect.DeepEqual(got[:len(want)], want)
}
