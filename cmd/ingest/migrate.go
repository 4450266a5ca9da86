package main

import (
	"context"
	"fmt"

	"github.com/tokentrail/tokentrail/chconn"
	"github.com/tokentrail/tokentrail/schema/migrate"
)

// MigrateCmd is the migrate command.
type MigrateCmd struct {
	ClickHouseFlags
	Cluster string `help:"ClickHouse cluster: create the schema ON CLUSTER with Replicated and Distributed tables (empty: one server)." env:"CLICKHOUSE_CLUSTER" placeholder:"NAME"`
}

// Run applies the migrations the database has not recorded and prints one
// line per migration applied. A second run applies nothing.
func (c *MigrateCmd) Run(ctx context.Context, g *Globals) error {
	conn, cfg, err := c.openClickHouse(ctx)
	if err != nil {
		return err
	}
	defer conn.Close()
	applied, err := migrate.Apply(ctx, conn, migrate.Options{Database: cfg.Database(), Cluster: c.Cluster, Logger: g.Logger()})
	for _, m := range applied {
		fmt.Fprintf(g.stdout, "applied %s\n", m.Name)
	}
	if err != nil {
		return fmt.Errorf("migrate ClickHouse %s: %w", chconn.Redact(cfg.DSN), err)
	}
	if len(applied) == 0 {
		fmt.Fprintln(g.stdout, "schema up to date")
	}
	return nil
}
