package migrate

import (
	"fmt"
	"strings"
)

type stmtKind int

const (
	createTable stmtKind = iota
	alterTable
	dropTable
)

// statement is one parsed migration statement.
type statement struct {
	sql   string
	toks  []token
	kind  stmtKind
	table string
	name  token // the table name token

	// ALTER only.
	action    string // ADD, DROP or MODIFY
	column    string
	columnKw  token // the COLUMN keyword
	alterTail int   // byte offset just after the table name
}

// parseStatement classifies a statement and rejects the forms that are not
// idempotent or that name a database.
func parseStatement(sql string) (*statement, error) {
	toks, err := tokenize(sql)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrBadMigration, err)
	}
	st := &statement{sql: sql, toks: toks}
	var nameAt int
	switch {
	case keywords(toks, 0, "CREATE", "TABLE", "IF", "NOT", "EXISTS"):
		st.kind, nameAt = createTable, 5
	case keywords(toks, 0, "DROP", "TABLE", "IF", "EXISTS"):
		st.kind, nameAt = dropTable, 4
	case keywords(toks, 0, "ALTER", "TABLE"):
		st.kind, nameAt = alterTable, 2
	default:
		return nil, fmt.Errorf("%w: only CREATE TABLE IF NOT EXISTS, ALTER TABLE (one column action) and DROP TABLE IF EXISTS are allowed", ErrNotIdempotent)
	}
	if nameAt >= len(toks) {
		return nil, fmt.Errorf("%w: no table name", ErrBadMigration)
	}
	st.name = toks[nameAt]
	name, ok := st.name.ident()
	if !ok || name == "" {
		return nil, fmt.Errorf("%w: %q is not a table name", ErrBadMigration, st.name.text)
	}
	st.table = name
	next := nameAt + 1
	if next < len(toks) && toks[next].kind == tokPunct && toks[next].text == "." {
		return nil, fmt.Errorf("%w: table %s is qualified with a database; the runner qualifies names", ErrBadMigration, name)
	}
	if next < len(toks) && toks[next].is("ON") {
		return nil, fmt.Errorf("%w: table %s: ON CLUSTER in a file; set Options.Cluster instead", ErrBadMigration, name)
	}
	if st.kind == alterTable {
		if err := st.parseAlter(next); err != nil {
			return nil, err
		}
	}
	return st, nil
}

func (st *statement) parseAlter(i int) error {
	toks := st.toks
	if i+2 >= len(toks) || !toks[i+1].is("COLUMN") {
		return fmt.Errorf("%w: ALTER TABLE %s: only ADD COLUMN, DROP COLUMN and MODIFY COLUMN are allowed", ErrNotIdempotent, st.table)
	}
	st.action = strings.ToUpper(toks[i].text)
	switch st.action {
	case "ADD", "DROP", "MODIFY":
	default:
		return fmt.Errorf("%w: ALTER TABLE %s: %s is not ADD, DROP or MODIFY COLUMN", ErrNotIdempotent, st.table, toks[i].text)
	}
	if toks[i+2].is("IF") {
		return fmt.Errorf("%w: ALTER TABLE %s: write %s COLUMN without IF [NOT] EXISTS (ClickHouse 18.16 rejects it); the runner skips the action when it is already done",
			ErrBadMigration, st.table, st.action)
	}
	col, ok := toks[i+2].ident()
	if !ok {
		return fmt.Errorf("%w: ALTER TABLE %s: %q is not a column name", ErrBadMigration, st.table, toks[i+2].text)
	}
	if topLevel(toks, i, func(t token) bool { return t.kind == tokPunct && t.text == "," }) >= 0 {
		return fmt.Errorf("%w: ALTER TABLE %s: one action per statement, so that a partial failure can be resumed", ErrNotIdempotent, st.table)
	}
	st.column, st.columnKw, st.alterTail = col, toks[i+1], st.name.end
	return nil
}

// step is one query to run, skipped when its guard says the work is done.
type step struct {
	sql   string
	guard *columnGuard
	// perShard runs sql (an ALTER of a Replicated local table, without ON
	// CLUSTER) on one replica of each shard, connected to directly.
	perShard bool
	// swap, when set, replaces sql: the Distributed table is re-created
	// over its local table on every host (see distSwap).
	swap *distSwap
}

// columnGuard skips an ALTER whose column already exists (ADD) or is
// already gone (DROP), looking at the server the ALTER would run on.
type columnGuard struct {
	database, table, column string
	skipIfExists            bool
}

// distSwap re-creates the Distributed table over its local table so that
// it has the local table's new columns. ClickHouse refuses ALTER ... ON
// CLUSTER on a Distributed table of a cluster whose shards are replicated
// (Code 371), so it is built anew under a temporary name on every host
// and renamed into place (a RENAME is atomic on each host: readers and the
// sink always find the table).
type distSwap struct {
	database, table, local, cluster string
}

// plan renders a statement for a single node or a cluster.
func (st *statement) plan(db, cluster string) ([]step, error) {
	if cluster == "" {
		s := step{sql: st.sql[:st.name.start] + qualify(db, st.table) + st.sql[st.name.end:]}
		if st.kind == alterTable && st.action != "MODIFY" {
			s.guard = &columnGuard{database: db, table: st.table, column: st.column, skipIfExists: st.action == "ADD"}
		}
		return []step{s}, nil
	}
	local := st.table + "_local"
	on := " ON CLUSTER " + literal(cluster)
	switch st.kind {
	case createTable:
		return st.planClusterCreate(db, cluster)
	case alterTable:
		// Not ON CLUSTER: on 18.16 the DDL worker's "leader replica"
		// execution of a replicated ALTER can run it on two replicas of a
		// shard, and the loser's worker then hangs on the task (measured with
		// migration 0002). One replica of each shard runs it; the others
		// take the new columns from ZooKeeper. 18.16 has no ADD/DROP COLUMN
		// IF [NOT] EXISTS, so a guard asks that replica first.
		alter := step{sql: st.sql[:st.name.start] + qualify(db, local) + st.sql[st.alterTail:], perShard: true}
		if st.action != "MODIFY" {
			alter.guard = &columnGuard{database: db, table: local, column: st.column, skipIfExists: st.action == "ADD"}
		}
		return []step{alter, {swap: &distSwap{database: db, table: st.table, local: local, cluster: cluster}}}, nil
	default: // dropTable
		return []step{
			{sql: "DROP TABLE IF EXISTS " + qualify(db, st.table) + on},
			{sql: "DROP TABLE IF EXISTS " + qualify(db, local) + on},
		}, nil
	}
}

// queries renders the swap's DDL for the Distributed table's current
// engine clause (engine_full in system.tables).
func (d *distSwap) queries(engine string) []string {
	on := " ON CLUSTER " + literal(d.cluster)
	tmp, old := qualify(d.database, d.table+"__new"), qualify(d.database, d.table+"__old")
	return []string{
		"DROP TABLE IF EXISTS " + tmp + on,
		"DROP TABLE IF EXISTS " + old + on,
		"CREATE TABLE " + tmp + on + " AS " + qualify(d.database, d.local) + " ENGINE = " + engine,
		"RENAME TABLE " + qualify(d.database, d.table) + " TO " + old + ", " + tmp + " TO " + qualify(d.database, d.table) + on,
		"DROP TABLE IF EXISTS " + old + on,
	}
}

// planClusterCreate turns CREATE TABLE t (...) ENGINE = XMergeTree(args) ...
// into t_local with ReplicatedXMergeTree on every node, and t as a
// Distributed table over t_local.
func (st *statement) planClusterCreate(db, cluster string) ([]step, error) {
	toks := st.toks
	fail := func(reason string) ([]step, error) {
		return nil, fmt.Errorf("%w: CREATE TABLE %s: %s", ErrCluster, st.table, reason)
	}
	e := topLevel(toks, 0, func(t token) bool { return t.is("ENGINE") })
	if e < 0 || e+2 >= len(toks) || toks[e+1].text != "=" || toks[e+2].kind != tokWord {
		return fail("no ENGINE = <engine> clause")
	}
	engine := toks[e+2]
	if !strings.HasSuffix(engine.text, "MergeTree") || strings.HasPrefix(engine.text, "Replicated") {
		return fail(fmt.Sprintf("engine %s has no Replicated variant the runner can derive", engine.text))
	}
	args, argsEnd := "", engine.end
	if e+3 < len(toks) && toks[e+3].text == "(" {
		c := matchClose(toks, e+3)
		if c < 0 {
			return fail("unbalanced engine parentheses")
		}
		args, argsEnd = strings.TrimSpace(st.sql[toks[e+3].end:toks[c].start]), toks[c].end
	}
	keys, err := st.shardingKey(e, args)
	if err != nil {
		return fail(err.Error())
	}
	local := st.table + "_local"
	on := " ON CLUSTER " + literal(cluster)
	replArgs := literal(ZooKeeperPath(cluster, db, local)) + ", '{replica}'"
	if args != "" {
		replArgs += ", " + args
	}
	createLocal := st.sql[:st.name.start] + qualify(db, local) + on + st.sql[st.name.end:engine.start] +
		"Replicated" + engine.text + "(" + replArgs + ")" + st.sql[argsEnd:]
	createDist := "CREATE TABLE IF NOT EXISTS " + qualify(db, st.table) + on + " AS " + qualify(db, local) +
		" ENGINE = Distributed(" + literal(cluster) + ", " + literal(db) + ", " + literal(local) +
		", cityHash64(" + strings.Join(keys, ", ") + "))"
	return []step{{sql: createLocal}, {sql: createDist}}, nil
}

// ZooKeeperPath is where a cluster's replicated table keeps its replicas,
// per shard. The cluster's name is part of it so that two clusters sharing
// one ZooKeeper (and database names) never share a table.
func ZooKeeperPath(cluster, db, table string) string {
	return "/clickhouse/tables/" + cluster + "/{shard}/" + db + "/" + table
}

// shardingKeys overrides the sharding key derived from a table's sort key.
// An audit event's id fixes its token_id, so hashing (tenant, token_id)
// still keeps every version of an event on one shard, and puts a token's
// events on the shard that holds its states and changes: de-duplication
// stays exact and a join on token_id stays within a shard.
var shardingKeys = map[string][]string{
	"audit_events": {"tenant", "token_id"},
}

// shardingKey returns the ORDER BY columns without the version column named
// in the engine's arguments: rows that replace each other share the sort
// key, so hashing any part of it keeps them on one shard, and leaving the
// version out keeps every version of a row together.
func (st *statement) shardingKey(engineAt int, engineArgs string) ([]string, error) {
	if k, ok := shardingKeys[st.table]; ok {
		return k, nil
	}
	toks := st.toks
	o := topLevel(toks, engineAt, func(t token) bool { return t.is("ORDER") })
	if o < 0 || o+2 >= len(toks) || !toks[o+1].is("BY") {
		return nil, fmt.Errorf("no ORDER BY to derive a sharding key from")
	}
	var elems []string
	if toks[o+2].text == "(" {
		c := matchClose(toks, o+2)
		if c < 0 {
			return nil, fmt.Errorf("unbalanced ORDER BY parentheses")
		}
		start := toks[o+2].end
		for i := o + 3; i <= c; i++ {
			if i == c || toks[i].text == "," && topLevelAt(toks, o+3, i) {
				elems = append(elems, strings.TrimSpace(st.sql[start:toks[i].start]))
				start = toks[i].end
			}
		}
	} else {
		end := topLevel(toks, o+2, func(t token) bool {
			return t.is("PARTITION") || t.is("PRIMARY") || t.is("SAMPLE") || t.is("SETTINGS") || t.is("TTL")
		})
		stop := len(st.sql)
		if end >= 0 {
			stop = toks[end].start
		}
		elems = append(elems, strings.TrimSpace(st.sql[toks[o+2].start:stop]))
	}
	var keys []string
	for _, e := range elems {
		if e != "" && e != engineArgs {
			keys = append(keys, e)
		}
	}
	if len(keys) == 0 {
		return nil, fmt.Errorf("ORDER BY holds only the version column")
	}
	return keys, nil
}

// topLevelAt reports whether toks[i] is at depth 0 counting from toks[from].
func topLevelAt(toks []token, from, i int) bool {
	depth := 0
	for j := from; j < i; j++ {
		switch toks[j].text {
		case "(":
			depth++
		case ")":
			depth--
		}
	}
	return depth == 0
}

func qualify(db, table string) string { return quoteIdent(db) + "." + quoteIdent(table) }

func quoteIdent(s string) string {
	return "`" + strings.NewReplacer("\\", "\\\\", "`", "\\`").Replace(s) + "`"
}

func literal(s string) string {
	return "'" + strings.NewReplacer("\\", "\\\\", "'", "\\'").Replace(s) + "'"
}
