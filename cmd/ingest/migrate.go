package main

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

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
	applied, err := migrate.Apply(ctx, conn, migrateOptions(cfg, c.Cluster, g.Logger()))
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

// migrateOptions applies the migrations to the DSN's database. ON CLUSTER
// DDL waits for every host at most migrate.DefaultDDLTimeout, and less when
// the connection's read timeout is shorter, so that a host that is down is
// reported by name rather than as a bare read timeout.
func migrateOptions(cfg chconn.Config, cluster string, log *slog.Logger) migrate.Options {
	opts := migrate.Options{Database: cfg.Database(), Cluster: cluster, Logger: log, DDLTimeout: migrate.DefaultDDLTimeout,
		Dial: func(ctx context.Context, addr string) (driver.Conn, error) { return chconn.OpenHost(ctx, cfg, addr) }}
	if o, err := cfg.Options(); err == nil && o.ReadTimeout > 0 && o.ReadTimeout-5*time.Second < opts.DDLTimeout {
		opts.DDLTimeout = max(o.ReadTimeout-5*time.Second, time.Second)
	}
	return opts
}
