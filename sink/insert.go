package sink

import (
	"context"

	"github.com/ClickHouse/clickhouse-go/v2"
)

// syncInsert asks for a synchronous insert into a Distributed table: the
// server acknowledges only after one replica of every shard stored its
// rows. By default a Distributed table queues the rows on the receiving
// node's disk and acknowledges that, so offsets committed after it would
// cover rows a lost node takes with it. On a plain table the setting does
// nothing. (Servers since 23.x call it distributed_foreground_insert and
// keep this name as an alias.)
func syncInsert(ctx context.Context) context.Context {
	return clickhouse.Context(ctx, clickhouse.WithSettings(clickhouse.Settings{"insert_distributed_sync": 1}))
}

// insertFailing records the outcome of an insert attempt for Ready.
func (s *Sink) insertFailing(err error) {
	if err == nil {
		s.failing.Store(nil)
		return
	}
	s.failing.Store(&err)
}
