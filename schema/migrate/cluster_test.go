package migrate_test

import (
	"context"
	"errors"
	"reflect"
	"slices"
	"strings"
	"testing"
	"testing/fstest"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"
	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	"github.com/tokentrail/tokentrail/internal/chcluster"
	"github.com/tokentrail/tokentrail/schema/migrate"
)

// TestCluster runs the cluster tests on the operators' example cluster
// (2 shards × 2 replicas whose replica names repeat in every shard) and a
// one-node cluster sharing its ZooKeeper.
func TestCluster(t *testing.T) {
	c := chcluster.Start(t, chcluster.Options{})
	t.Run("EmbeddedThenNoOp", func(t *testing.T) { testClusterEmbedded(t, c) })
	t.Run("Alter", func(t *testing.T) { testClusterAlter(t, c) })
	t.Run("TwoClustersOneZooKeeper", func(t *testing.T) { testTwoClusters(t, c) })
	// Last: it kills and restarts a node.
	t.Run("NodeDown", func(t *testing.T) { testClusterNodeDown(t, c) })
}

// dial reaches one server of a test cluster, as Options.Dial does.
func dial(ctx context.Context, addr string) (driver.Conn, error) {
	conn, err := clickhouse.Open(&clickhouse.Options{Addr: []string{addr}, DialTimeout: 2 * time.Second, ReadTimeout: time.Minute})
	if err != nil {
		return nil, err
	}
	if err := conn.Ping(ctx); err != nil {
		conn.Close()
		return nil, err
	}
	return conn, nil
}

func testClusterEmbedded(t *testing.T, c *chcluster.Cluster) {
	db := c.NewDatabase()
	opts := migrate.Options{Database: db, Cluster: c.Name, Dial: dial}
	applied, err := migrate.Apply(ctx(t), c.Conn(t, ""), opts)
	if err != nil {
		t.Fatal(err)
	}
	if len(applied) == 0 {
		t.Fatal("nothing applied")
	}
	for _, n := range c.Nodes() {
		conn := n.Conn(t, "")
		for table, want := range contract {
			for _, tb := range []string{table, table + "_local"} {
				if got := columns(t, conn, db, tb); !hasPrefix(got, want) {
					t.Errorf("%s: %s columns = %v, want %v first", n.Addr, tb, got, want)
				}
			}
		}
	}
	c.WaitReplicated(t, db)
	for _, n := range c.Nodes() {
		if got := count(t, n.Conn(t, ""), "SELECT count() FROM "+db+".schema_migrations FINAL"); got != uint64(len(applied)) {
			t.Errorf("%s: the ledger has %d rows, want %d", n.Addr, got, len(applied))
		}
	}
	// The ledger's replica names include the shard: the example repeats
	// replica names r1 and r2 in both shards.
	var replicas uint64
	q := "SELECT count() FROM system.zookeeper WHERE path = '" + strings.TrimSuffix(migrate.LedgerPath(c.Name, db), "/") + "/replicas'"
	if replicas = count(t, c.Conn(t, ""), q); replicas != 4 {
		t.Errorf("ledger replicas in ZooKeeper = %d, want 4", replicas)
	}
	again, err := migrate.Apply(ctx(t), c.Conn(t, ""), opts)
	if err != nil || len(again) != 0 {
		t.Fatalf("second Apply = %v, %v; want a no-op", names(again), err)
	}
}

// thingsV1 creates a table; thingsV2 adds, modifies and drops columns.
var thingsV1 = fstest.MapFS{
	"0001_things.sql": {Data: []byte("CREATE TABLE IF NOT EXISTS things (tenant String, id String, version UInt64) ENGINE = ReplacingMergeTree(version) ORDER BY (tenant, id);\n")},
}

func thingsV2() fstest.MapFS {
	fs := fstest.MapFS{"0001_things.sql": thingsV1["0001_things.sql"]}
	fs["0002_note.sql"] = &fstest.MapFile{Data: []byte("ALTER TABLE things ADD COLUMN note String DEFAULT '';\n" +
		"ALTER TABLE things ADD COLUMN extra UInt8;\n" +
		"ALTER TABLE things MODIFY COLUMN note String DEFAULT 'n/a';\n")}
	fs["0003_drop.sql"] = &fstest.MapFile{Data: []byte("ALTER TABLE things DROP COLUMN extra;\n")}
	return fs
}

func testClusterAlter(t *testing.T, c *chcluster.Cluster) {
	db := c.NewDatabase()
	conn := c.Conn(t, "")
	if _, err := migrate.Apply(ctx(t), conn, migrate.Options{Database: db, Cluster: c.Name, FS: thingsV1, Dial: dial}); err != nil {
		t.Fatal(err)
	}
	// A run that died after adding the column on one shard only.
	if err := c.Shards[1][0].Conn(t, "").Exec(ctx(t), "ALTER TABLE "+db+".things_local ADD COLUMN note String DEFAULT ''"); err != nil {
		t.Fatal(err)
	}
	applied, err := migrate.Apply(ctx(t), conn, migrate.Options{Database: db, Cluster: c.Name, FS: thingsV2(), Dial: dial})
	if err != nil {
		t.Fatal(err)
	}
	if got := names(applied); !reflect.DeepEqual(got, []string{"0002_note.sql", "0003_drop.sql"}) {
		t.Fatalf("applied %v", got)
	}
	c.WaitReplicated(t, db)
	for _, n := range c.Nodes() {
		nc := n.Conn(t, "")
		for _, tb := range []string{"things_local", "things"} {
			if got := columns(t, nc, db, tb); !reflect.DeepEqual(got, []string{"tenant", "id", "version", "note"}) {
				t.Errorf("%s: %s columns = %v", n.Addr, tb, got)
			}
			var def string
			if err := nc.QueryRow(ctx(t), "SELECT default_expression FROM system.columns WHERE database = ? AND table = ? AND name = 'note'", db, tb).Scan(&def); err != nil || def != "'n/a'" {
				t.Errorf("%s: %s.note default = %q, %v; want 'n/a' (MODIFY reached it)", n.Addr, tb, def, err)
			}
		}
	}
	if again, err := migrate.Apply(ctx(t), conn, migrate.Options{Database: db, Cluster: c.Name, FS: thingsV2(), Dial: dial}); err != nil || len(again) != 0 {
		t.Errorf("second Apply = %v, %v; want a no-op", names(again), err)
	}
}

// Two clusters on one ZooKeeper with the same database name and the same
// shard and replica macros each keep their own tables and ledger.
func testTwoClusters(t *testing.T, a *chcluster.Cluster) {
	b := chcluster.Start(t, chcluster.Options{Name: "other", Shards: 1, Replicas: 1, ZooKeeper: a.ZooKeeper})
	db := a.NewDatabase()
	for _, c := range []*chcluster.Cluster{a, b} {
		applied, err := migrate.Apply(ctx(t), c.Conn(t, ""), migrate.Options{Database: db, Cluster: c.Name, Dial: dial})
		if err != nil {
			t.Fatalf("cluster %s: %v", c.Name, err)
		}
		if len(applied) == 0 {
			t.Fatalf("cluster %s: nothing applied; it read another cluster's ledger", c.Name)
		}
	}
	// Rows written in one cluster stay there.
	if err := a.Conn(t, db).Exec(ctx(t), "INSERT INTO settings_changes_local (tenant, version) SELECT 'a', 1"); err != nil {
		t.Fatal(err)
	}
	a.WaitReplicated(t, db)
	if n := count(t, b.Conn(t, db), "SELECT count() FROM settings_changes"); n != 0 {
		t.Errorf("cluster other sees %d rows of cluster %s", n, a.Name)
	}
}

func testClusterNodeDown(t *testing.T, c *chcluster.Cluster) {
	db := c.NewDatabase()
	opts := migrate.Options{Database: db, Cluster: c.Name, FS: thingsV1, DDLTimeout: 3 * time.Second, Dial: dial}
	if _, err := migrate.Apply(ctx(t), c.Conn(t, ""), opts); err != nil {
		t.Fatal(err)
	}
	down := c.Shards[1][1]
	down.Kill()
	// Schema current: no DDL is sent, so nothing waits for the dead node.
	start := time.Now()
	if applied, err := migrate.Apply(ctx(t), c.Conn(t, ""), opts); err != nil || len(applied) != 0 {
		t.Fatalf("Apply with a node down and the schema current = %v, %v", names(applied), err)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("Apply with the schema current took %v", d)
	}
	// A pending migration times out naming the dead node (and its
	// replica, when the ALTER waits for it), and is not recorded.
	opts.FS = thingsV2()
	_, err := migrate.Apply(ctx(t), c.Conn(t, ""), opts)
	var te *migrate.DDLTimeoutError
	if !errors.As(err, &te) || !slices.Contains(te.Unfinished, down.Addr) || slices.Contains(te.Unfinished, c.Shards[0][0].Addr) || slices.Contains(te.Unfinished, c.Shards[0][1].Addr) {
		t.Fatalf("Apply with a node down = %v; want a DDL timeout naming %s and no host of shard 1", err, down.Addr)
	}
	if !strings.Contains(err.Error(), down.Addr) {
		t.Errorf("error does not name %s: %v", down.Addr, err)
	}
	if n := count(t, c.Conn(t, ""), "SELECT count() FROM "+db+".schema_migrations WHERE version = 2"); n != 0 {
		t.Error("migration 0002 recorded although a host did not run it")
	}
	if err := down.Start(); err != nil {
		t.Fatal(err)
	}
	if err := c.WaitZooKeeper(30 * time.Second); err != nil {
		t.Fatal(err)
	}
	opts.DDLTimeout = 0
	if _, err := migrate.Apply(ctx(t), c.Conn(t, ""), opts); err != nil {
		t.Fatalf("Apply after the node returned: %v", err)
	}
	if got := columns(t, down.Conn(t, ""), db, "things"); !reflect.DeepEqual(got, []string{"tenant", "id", "version", "note"}) {
		t.Errorf("returned node's things columns = %v", got)
	}
}
