package sink_test

import (
	"context"
	"log/slog"
	"os"
	"os/signal"

	"github.com/tokentrail/tokentrail/chconn"
	"github.com/tokentrail/tokentrail/kafkaconn"
	"github.com/tokentrail/tokentrail/schema/migrate"
	"github.com/tokentrail/tokentrail/sink"
)

// A sink wired by hand, as `ingest sink` does: connect, migrate, run until
// interrupted (Drain instead of Run catches up and returns). It needs a
// broker and a server, so it is compiled but not run.
func Example() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	conn, err := chconn.Open(ctx, chconn.Config{DSN: "clickhouse://127.0.0.1:9000/tokentrail"})
	if err != nil {
		panic(err)
	}
	defer conn.Close()
	if _, err := migrate.Apply(ctx, conn, migrate.Options{}); err != nil {
		panic(err)
	}
	cfg := sink.DefaultConfiguration()
	cfg.Kafka = kafkaconn.Config{Brokers: []string{"127.0.0.1:9092"}}
	s, err := sink.New(cfg, sink.Dependencies{ClickHouse: conn, Logger: slog.Default()})
	if err != nil {
		panic(err)
	}
	if err := s.Run(ctx); err != nil {
		panic(err)
	}
}

// A process whose work is a sink sets the Go runtime's soft memory limit
// from its budget (or GOMEMLIMIT, or a tighter cgroup limit) before it
// starts the sink, and restores it when the sink is done. It changes the
// process's runtime settings, so it is compiled but not run.
func ExampleSetMemoryLimit() {
	cfg := sink.DefaultConfiguration()
	limit, restore := sink.SetMemoryLimit(cfg.MemoryBudget, slog.Default())
	defer restore()
	slog.Info("memory", "limit_mib", limit>>20, "budget_mib", cfg.MemoryBudget>>20)
}
