package main

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	"github.com/tokentrail/tokentrail/chconn"
	"github.com/tokentrail/tokentrail/internal/chcluster"
	"github.com/tokentrail/tokentrail/schema/migrate"
)

// With a whole shard down, report fails with one line that names the
// shard's servers, not just "All connection tries failed. Log:".
func TestClusterErrorNamesHosts(t *testing.T) {
	c := chcluster.Start(t, chcluster.Options{})
	db := c.NewDatabase()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	dial := func(ctx context.Context, addr string) (driver.Conn, error) {
		return chconn.OpenHost(ctx, chconn.Config{DSN: "clickhouse://" + addr}, addr)
	}
	if _, err := migrate.Apply(ctx, c.Conn(t, ""), migrate.Options{Database: db, Cluster: c.Name, Dial: dial}); err != nil {
		t.Fatal(err)
	}
	for _, n := range c.Shards[1] {
		n.Kill()
	}
	code, _, stderr := cli(t, "--clickhouse-dsn", c.DSN(db), "run", "token-inventory")
	if code != 1 || strings.Count(strings.TrimSpace(stderr), "\n") != 0 {
		t.Fatalf("exit %d, stderr %q; want 1 and one line", code, stderr)
	}
	named := 0
	for _, n := range c.Shards[1] {
		if strings.Contains(stderr, n.Addr) {
			named++
		}
	}
	if named == 0 {
		t.Errorf("the error names no server of the shard that is down (%s, %s):\n%s", c.Shards[1][0].Addr, c.Shards[1][1].Addr, stderr)
	}
}
