package chcluster_test

import (
	"context"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"

	"github.com/tokentrail/tokentrail/internal/chcluster"
)

// The example's cluster answers as 2 shards × 2 replicas, replicates
// within a shard, and a Distributed table reads both shards.
func TestExampleCluster(t *testing.T) {
	start := time.Now()
	c := chcluster.Start(t, chcluster.Options{})
	t.Logf("ZooKeeper + %d servers up in %v", len(c.Nodes()), time.Since(start))
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	conn := c.Conn(t, "")
	var shards, replicas uint64
	if err := conn.QueryRow(ctx, "SELECT uniqExact(shard_num), count() FROM system.clusters WHERE cluster = ?", c.Name).Scan(&shards, &replicas); err != nil {
		t.Fatal(err)
	}
	if shards != 2 || replicas != 4 {
		t.Fatalf("system.clusters: %d shards, %d servers; want 2 and 4", shards, replicas)
	}
	db := c.NewDatabase()
	for _, q := range []string{
		"CREATE DATABASE " + db + " ON CLUSTER " + c.Name,
		"CREATE TABLE " + db + ".t_local ON CLUSTER " + c.Name + " (k UInt64) ENGINE = ReplicatedMergeTree('/clickhouse/tables/{shard}/" + db + "/t', '{replica}') ORDER BY k",
		"CREATE TABLE " + db + ".t ON CLUSTER " + c.Name + " AS " + db + ".t_local ENGINE = Distributed(" + c.Name + ", " + db + ", t_local, k)",
		"INSERT INTO " + db + ".t SELECT number FROM system.numbers LIMIT 1000",
	} {
		if err := conn.Exec(clickhouseSync(ctx), q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	c.WaitReplicated(t, db)
	for s, reps := range c.Shards {
		var per []uint64
		for _, n := range reps {
			var k uint64
			if err := n.Conn(t, db).QueryRow(ctx, "SELECT count() FROM t_local").Scan(&k); err != nil {
				t.Fatal(err)
			}
			per = append(per, k)
		}
		if per[0] == 0 || per[0] == 1000 || per[0] != per[1] {
			t.Errorf("shard %d replicas hold %v rows; want the same share of 1000 on each", s+1, per)
		}
	}
	var n uint64
	if err := conn.QueryRow(ctx, "SELECT count() FROM "+db+".t").Scan(&n); err != nil || n != 1000 {
		t.Fatalf("Distributed count = %d, %v", n, err)
	}
}

func clickhouseSync(ctx context.Context) context.Context {
	return clickhouse.Context(ctx, clickhouse.WithSettings(clickhouse.Settings{"insert_distributed_sync": 1}))
}
