package migrate

import (
	"errors"
	"reflect"
	"slices"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/tokentrail/tokentrail/schema/migrations"
)

func TestSplitStatements(t *testing.T) {
	src := `-- header; with a semicolon
CREATE TABLE IF NOT EXISTS a (s String DEFAULT 'x;y') ENGINE = MergeTree() ORDER BY s;
/* block; comment */
ALTER TABLE a ADD COLUMN "we;ird" String DEFAULT 'it''s; \' ok';
-- only a comment;
;
DROP TABLE IF EXISTS a`
	got, err := splitStatements(src)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{
		"CREATE TABLE IF NOT EXISTS a (s String DEFAULT 'x;y') ENGINE = MergeTree() ORDER BY s",
		`ALTER TABLE a ADD COLUMN "we;ird" String DEFAULT 'it''s; \' ok'`,
		"DROP TABLE IF EXISTS a",
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("split:\n got %q\nwant %q", got, want)
	}
	if _, err := splitStatements("SELECT 'unterminated"); err == nil {
		t.Error("unterminated string accepted")
	}
}

func TestParseStatementRejects(t *testing.T) {
	for _, tc := range []struct {
		sql  string
		want error
	}{
		{"INSERT INTO t SELECT 1", ErrNotIdempotent},
		{"CREATE TABLE t (a String) ENGINE = MergeTree() ORDER BY a", ErrNotIdempotent},
		{"CREATE MATERIALIZED VIEW IF NOT EXISTS v AS SELECT 1", ErrNotIdempotent},
		{"DROP TABLE t", ErrNotIdempotent},
		{"ALTER TABLE t DELETE WHERE 1", ErrNotIdempotent},
		{"ALTER TABLE t ADD COLUMN a String, ADD COLUMN b String", ErrNotIdempotent},
		{"ALTER TABLE t ADD COLUMN IF NOT EXISTS a String", ErrBadMigration},
		{"CREATE TABLE IF NOT EXISTS db.t (a String) ENGINE = MergeTree() ORDER BY a", ErrBadMigration},
		{"CREATE TABLE IF NOT EXISTS t ON CLUSTER c (a String) ENGINE = MergeTree() ORDER BY a", ErrBadMigration},
		{"CREATE TABLE IF NOT EXISTS 'lit' (a String) ENGINE = MergeTree() ORDER BY a", ErrBadMigration},
	} {
		if _, err := parseStatement(tc.sql); !errors.Is(err, tc.want) {
			t.Errorf("%s: err = %v, want %v", tc.sql, err, tc.want)
		}
	}
}

func TestLoadRejectsBadFiles(t *testing.T) {
	ok := "CREATE TABLE IF NOT EXISTS t (a String) ENGINE = MergeTree() ORDER BY a;"
	for name, fsys := range map[string]fstest.MapFS{
		"bad name":       {"1_init.sql": {Data: []byte(ok)}},
		"upper case":     {"0001_Init.sql": {Data: []byte(ok)}},
		"version zero":   {"0000_init.sql": {Data: []byte(ok)}},
		"duplicate":      {"0001_a.sql": {Data: []byte(ok)}, "0001_b.sql": {Data: []byte(ok)}},
		"empty":          {"0001_a.sql": {Data: []byte("-- nothing\n")}},
		"not idempotent": {"0001_a.sql": {Data: []byte("INSERT INTO t SELECT 1;")}},
	} {
		if _, err := Load(fsys); !errors.Is(err, ErrBadMigration) && !errors.Is(err, ErrNotIdempotent) {
			t.Errorf("%s: Load err = %v", name, err)
		}
	}
}

func TestLoadEmbedded(t *testing.T) {
	migs, err := Load(migrations.FS)
	if err != nil {
		t.Fatal(err)
	}
	if len(migs) == 0 || migs[0].Version != 1 || migs[0].Name != "0001_init.sql" {
		t.Fatalf("embedded migrations = %+v", migs)
	}
	var tables []string
	for _, m := range migs {
		for _, st := range m.parsed {
			if st.kind == createTable {
				tables = append(tables, st.table)
			}
			// Every statement renders for a cluster too.
			if _, err := st.plan("tokentrail", "main"); err != nil {
				t.Errorf("%s: %v", m.Name, err)
			}
		}
	}
	for _, want := range []string{"audit_events", "tokens", "token_changes", "settings_changes"} {
		if !slices.Contains(tables, want) {
			t.Errorf("table %s not created by any migration (got %v)", want, tables)
		}
	}
}

func TestPlanSingleNode(t *testing.T) {
	st := mustParse(t, "ALTER TABLE tokens ADD COLUMN note String DEFAULT ''")
	steps, err := st.plan("tt", "")
	if err != nil {
		t.Fatal(err)
	}
	want := []step{{sql: "ALTER TABLE `tt`.`tokens` ADD COLUMN note String DEFAULT ''",
		guard: &columnGuard{database: "tt", table: "tokens", column: "note", skipIfExists: true}}}
	if !reflect.DeepEqual(steps, want) {
		t.Errorf("plan = %+v", steps)
	}
	st = mustParse(t, "CREATE TABLE IF NOT EXISTS `a``b` (x String) ENGINE = MergeTree() ORDER BY x")
	steps, _ = st.plan("d`b", "")
	if got := steps[0].sql; got != "CREATE TABLE IF NOT EXISTS `d\\`b`.`a\\`b` (x String) ENGINE = MergeTree() ORDER BY x" {
		t.Errorf("quoted names: %s", got)
	}
}

func TestPlanCluster(t *testing.T) {
	for _, tc := range []struct {
		sql  string
		want []string
	}{
		{
			"CREATE TABLE IF NOT EXISTS audit_events (tenant String, id String, timestamp DateTime('UTC'), version UInt64) ENGINE = ReplacingMergeTree(version) PARTITION BY toYYYYMM(timestamp) ORDER BY (tenant, id)",
			[]string{
				"CREATE TABLE IF NOT EXISTS `tt`.`audit_events_local` ON CLUSTER 'main' (tenant String, id String, timestamp DateTime('UTC'), version UInt64) ENGINE = ReplicatedReplacingMergeTree('/clickhouse/tables/main/{shard}/tt/audit_events_local', '{replica}', version) PARTITION BY toYYYYMM(timestamp) ORDER BY (tenant, id)",
				"CREATE TABLE IF NOT EXISTS `tt`.`audit_events` ON CLUSTER 'main' AS `tt`.`audit_events_local` ENGINE = Distributed('main', 'tt', 'audit_events_local', cityHash64(tenant, token_id))",
			},
		},
		{
			"CREATE TABLE IF NOT EXISTS token_changes (tenant String, id String, version UInt64) ENGINE = ReplacingMergeTree(version) ORDER BY (tenant, id, version)",
			[]string{
				"CREATE TABLE IF NOT EXISTS `tt`.`token_changes_local` ON CLUSTER 'main' (tenant String, id String, version UInt64) ENGINE = ReplicatedReplacingMergeTree('/clickhouse/tables/main/{shard}/tt/token_changes_local', '{replica}', version) ORDER BY (tenant, id, version)",
				"CREATE TABLE IF NOT EXISTS `tt`.`token_changes` ON CLUSTER 'main' AS `tt`.`token_changes_local` ENGINE = Distributed('main', 'tt', 'token_changes_local', cityHash64(tenant, id))",
			},
		},
		{
			"CREATE TABLE IF NOT EXISTS s (tenant String) ENGINE = MergeTree ORDER BY tenant SETTINGS index_granularity = 8192",
			[]string{
				"CREATE TABLE IF NOT EXISTS `tt`.`s_local` ON CLUSTER 'main' (tenant String) ENGINE = ReplicatedMergeTree('/clickhouse/tables/main/{shard}/tt/s_local', '{replica}') ORDER BY tenant SETTINGS index_granularity = 8192",
				"CREATE TABLE IF NOT EXISTS `tt`.`s` ON CLUSTER 'main' AS `tt`.`s_local` ENGINE = Distributed('main', 'tt', 's_local', cityHash64(tenant))",
			},
		},
		{
			"ALTER TABLE tokens ADD COLUMN note String",
			[]string{
				"on each shard unless it has tokens_local.note: ALTER TABLE `tt`.`tokens_local` ADD COLUMN note String",
				"re-create Distributed table tokens over tokens_local",
			},
		},
		{
			"ALTER TABLE tokens DROP COLUMN note",
			[]string{
				"on each shard unless it lacks tokens_local.note: ALTER TABLE `tt`.`tokens_local` DROP COLUMN note",
				"re-create Distributed table tokens over tokens_local",
			},
		},
		{
			"ALTER TABLE tokens MODIFY COLUMN note String DEFAULT 'x'",
			[]string{
				"on each shard: ALTER TABLE `tt`.`tokens_local` MODIFY COLUMN note String DEFAULT 'x'",
				"re-create Distributed table tokens over tokens_local",
			},
		},
		{
			"DROP TABLE IF EXISTS tokens",
			[]string{
				"DROP TABLE IF EXISTS `tt`.`tokens` ON CLUSTER 'main'",
				"DROP TABLE IF EXISTS `tt`.`tokens_local` ON CLUSTER 'main'",
			},
		},
	} {
		steps, err := mustParse(t, tc.sql).plan("tt", "main")
		if err != nil {
			t.Errorf("%s: %v", tc.sql, err)
			continue
		}
		var got []string
		for _, s := range steps {
			text := s.text()
			switch g := s.guard; {
			case g != nil && s.perShard && g.skipIfExists:
				text = "on each shard unless it has " + g.table + "." + g.column + ": " + text
			case g != nil && s.perShard:
				text = "on each shard unless it lacks " + g.table + "." + g.column + ": " + text
			case s.perShard:
				text = "on each shard: " + text
			case g != nil:
				t.Errorf("%s: a guard on a step that is not per shard", tc.sql)
			}
			got = append(got, text)
		}
		if !reflect.DeepEqual(got, tc.want) {
			t.Errorf("%s:\n got %s\nwant %s", tc.sql, strings.Join(got, "\n     "), strings.Join(tc.want, "\n     "))
		}
	}
	for _, bad := range []string{
		"CREATE TABLE IF NOT EXISTS l (a String) ENGINE = Log",
		"CREATE TABLE IF NOT EXISTS r (a String) ENGINE = ReplicatedMergeTree('/p', 'r') ORDER BY a",
		"CREATE TABLE IF NOT EXISTS v (version UInt64) ENGINE = ReplacingMergeTree(version) ORDER BY version",
		"CREATE TABLE IF NOT EXISTS n (a String) ENGINE = MergeTree()",
	} {
		if _, err := mustParse(t, bad).plan("tt", "main"); !errors.Is(err, ErrCluster) {
			t.Errorf("%s: err = %v, want ErrCluster", bad, err)
		}
	}
}

func mustParse(t *testing.T, sql string) *statement {
	t.Helper()
	st, err := parseStatement(sql)
	if err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
	return st
}
