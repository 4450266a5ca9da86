package migrate

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net"
	"path"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"
	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	"github.com/tokentrail/tokentrail/schema/migrations"
)

// Table is where applied migrations are recorded, in the target database.
const Table = "schema_migrations"

// Sentinel errors, each wrapped with the offending file or statement.
var (
	// ErrBadMigration: a file name is not NNNN_name.sql, two files share a
	// version, or a statement cannot be parsed or names a database.
	ErrBadMigration = errors.New("migrate: bad migration")
	// ErrNotIdempotent: a statement could not be run twice safely.
	ErrNotIdempotent = errors.New("migrate: statement is not idempotent")
	// ErrCluster: a statement cannot be rewritten for a cluster.
	ErrCluster = errors.New("migrate: statement cannot be rewritten for a cluster")
)

// Error says which migration and statement failed on the server. It
// unwraps to the server's or the driver's error.
type Error struct {
	Migration string // file name, e.g. 0001_init.sql
	Statement int    // 1-based index in the file; 0 = recording the migration
	Query     string // the query sent
	Err       error
}

func (e *Error) Error() string {
	if e.Statement == 0 {
		return fmt.Sprintf("migrate: %s: record in %s: %v", e.Migration, Table, e.Err)
	}
	return fmt.Sprintf("migrate: %s, statement %d (%s): %v", e.Migration, e.Statement, excerpt(e.Query), e.Err)
}

func (e *Error) Unwrap() error { return e.Err }

// Migration is one versioned file.
type Migration struct {
	Version    int
	Name       string   // file name
	Statements []string // as written, without the separating semicolons
	Checksum   string   // hex SHA-256 of the file, recorded for audits
	parsed     []*statement
}

// Options configures Apply. The zero value applies the embedded migrations
// to the connection's current database on a single node.
type Options struct {
	// Database holds the tables; "" = the connection's current database.
	Database string
	// Cluster, when set, emits ON CLUSTER DDL with Replicated engines and
	// Distributed tables (see the package documentation).
	Cluster string
	// FS holds the migration files; nil = the embedded schema/migrations.
	FS fs.FS
	// Logger receives one line per applied migration; nil = silent.
	Logger *slog.Logger
	// DDLTimeout bounds how long one ON CLUSTER statement waits for every
	// host (the server's distributed_ddl_task_timeout); 0 = 50s, below the
	// connection's default 60s read timeout, which would otherwise end the
	// wait with a bare "i/o timeout". The timeout is a *DDLTimeoutError
	// naming the hosts that did not finish.
	DDLTimeout time.Duration
	// Dial connects to one server of Cluster, named host:port as in the
	// cluster's definition (system.clusters), with the credentials of the
	// connection given to Apply. A cluster ALTER runs on one replica of
	// each shard through it; Apply fails with ErrCluster when a migration
	// has an ALTER and Dial is nil.
	Dial func(ctx context.Context, addr string) (driver.Conn, error)
}

// DefaultDDLTimeout is Options.DDLTimeout's default.
const DefaultDDLTimeout = 50 * time.Second

// DDLTimeoutError says which hosts did not finish an ON CLUSTER statement
// within the DDL timeout. They run it when they come back (the query stays
// queued in ZooKeeper); the migration is not recorded, so the next Apply
// checks again.
type DDLTimeoutError struct {
	Cluster    string
	Timeout    time.Duration
	Unfinished []string // host:port as in the cluster's definition
	Err        error    // the server's TIMEOUT_EXCEEDED
}

func (e *DDLTimeoutError) Error() string {
	return fmt.Sprintf("cluster %s: hosts %s did not finish the DDL within %v (they run it when they are back; migrate again to check): %v",
		e.Cluster, strings.Join(e.Unfinished, ", "), e.Timeout, e.Err)
}

func (e *DDLTimeoutError) Unwrap() error { return e.Err }

var defaultFS fs.FS = migrations.FS

var fileName = regexp.MustCompile(`^([0-9]{4,})_([a-z0-9_]+)\.sql$`)

// Load reads and checks every *.sql file of fsys, in version order.
func Load(fsys fs.FS) ([]Migration, error) {
	names, err := fs.Glob(fsys, "*.sql")
	if err != nil {
		return nil, fmt.Errorf("migrate: list migrations: %w", err)
	}
	var out []Migration
	seen := map[int]string{}
	for _, name := range names {
		m := fileName.FindStringSubmatch(path.Base(name))
		if m == nil {
			return nil, fmt.Errorf("%w: file %s: want NNNN_name.sql (lower case)", ErrBadMigration, name)
		}
		v, _ := strconv.Atoi(m[1])
		if v <= 0 {
			return nil, fmt.Errorf("%w: file %s: versions start at 1", ErrBadMigration, name)
		}
		if prev, dup := seen[v]; dup {
			return nil, fmt.Errorf("%w: files %s and %s share version %d", ErrBadMigration, prev, name, v)
		}
		seen[v] = name
		src, err := fs.ReadFile(fsys, name)
		if err != nil {
			return nil, fmt.Errorf("migrate: read %s: %w", name, err)
		}
		stmts, err := splitStatements(string(src))
		if err != nil {
			return nil, fmt.Errorf("%w: file %s: %v", ErrBadMigration, name, err)
		}
		if len(stmts) == 0 {
			return nil, fmt.Errorf("%w: file %s holds no statement", ErrBadMigration, name)
		}
		sum := sha256.Sum256(src)
		mig := Migration{Version: v, Name: name, Statements: stmts, Checksum: hex.EncodeToString(sum[:])}
		for i, s := range stmts {
			p, err := parseStatement(s)
			if err != nil {
				return nil, fmt.Errorf("file %s, statement %d (%s): %w", name, i+1, excerpt(s), err)
			}
			mig.parsed = append(mig.parsed, p)
		}
		out = append(out, mig)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Version < out[j].Version })
	return out, nil
}

// Apply runs the migrations not yet recorded in the database, in version
// order, and returns those it applied (none when the schema is current).
// A migration is recorded only after all its statements succeeded.
func Apply(ctx context.Context, conn driver.Conn, opts Options) ([]Migration, error) {
	fsys := opts.FS
	if fsys == nil {
		fsys = defaultFS
	}
	migs, err := Load(fsys)
	if err != nil {
		return nil, err
	}
	db := opts.Database
	if db == "" {
		if err := conn.QueryRow(ctx, "SELECT currentDatabase()").Scan(&db); err != nil {
			return nil, fmt.Errorf("migrate: read the current database: %w", err)
		}
	}
	// Render every statement before running any, so that a statement the
	// cluster rewrite rejects fails before the database is touched.
	plans := make([][][]step, len(migs))
	for i, m := range migs {
		for j, st := range m.parsed {
			steps, err := st.plan(db, opts.Cluster)
			if err != nil {
				return nil, fmt.Errorf("file %s, statement %d: %w", m.Name, j+1, err)
			}
			plans[i] = append(plans[i], steps)
		}
	}
	r := &runner{conn: conn, cluster: opts.Cluster, ddlTimeout: opts.DDLTimeout, dial: opts.Dial}
	if r.ddlTimeout <= 0 {
		r.ddlTimeout = DefaultDDLTimeout
	}
	// Read the ledger before sending any DDL: on a cluster every ON
	// CLUSTER statement waits for every host, so a start with a node down
	// must not send one when the schema is current.
	var ledgers uint64
	if err := conn.QueryRow(ctx, "SELECT count() FROM system.tables WHERE database = ? AND name = ?", db, Table).Scan(&ledgers); err != nil {
		return nil, fmt.Errorf("migrate: look for %s.%s: %w", db, Table, err)
	}
	if ledgers == 0 {
		if err := r.bootstrap(ctx, db); err != nil {
			return nil, err
		}
	}
	done, err := appliedVersions(ctx, conn, db)
	if err != nil {
		return nil, err
	}
	log := opts.Logger
	var applied []Migration
	for i, m := range migs {
		if done[m.Version] {
			continue
		}
		// A Distributed table is re-created once per migration, after the
		// last ALTER of its local table: each re-creation is five ON CLUSTER
		// statements.
		type deferred struct {
			stmt int
			s    step
		}
		var swaps []deferred
		for j, steps := range plans[i] {
			for _, s := range steps {
				if s.swap != nil {
					swaps = slices.DeleteFunc(swaps, func(d deferred) bool { return *d.s.swap == *s.swap })
					swaps = append(swaps, deferred{j + 1, s})
					continue
				}
				if err := r.run(ctx, s); err != nil {
					return applied, &Error{Migration: m.Name, Statement: j + 1, Query: s.text(), Err: err}
				}
			}
		}
		for _, d := range swaps {
			if err := r.run(ctx, d.s); err != nil {
				return applied, &Error{Migration: m.Name, Statement: d.stmt, Query: d.s.text(), Err: err}
			}
		}
		// Every step returned only after every host succeeded (ON CLUSTER
		// fails when one host fails or does not answer), so the migration
		// is done everywhere when it is recorded.
		if err := record(ctx, conn, db, m); err != nil {
			return applied, &Error{Migration: m.Name, Err: err}
		}
		if log != nil {
			log.Info("applied ClickHouse migration", "migration", m.Name, "database", db, "cluster", opts.Cluster)
		}
		applied = append(applied, m)
	}
	return applied, nil
}

// runner sends a migration's steps to one node or, ON CLUSTER, to all.
type runner struct {
	conn       driver.Conn
	cluster    string
	ddlTimeout time.Duration
	dial       func(ctx context.Context, addr string) (driver.Conn, error)
}

func (r *runner) bootstrap(ctx context.Context, db string) error {
	for _, q := range bootstrapQueries(db, r.cluster) {
		if err := r.exec(ctx, q); err != nil {
			return fmt.Errorf("migrate: create %s.%s: %w", db, Table, err)
		}
	}
	return nil
}

func bootstrapQueries(db, cluster string) []string {
	const columns = " (version UInt32, name String, checksum String, applied_at DateTime('UTC'))"
	if cluster == "" {
		return []string{"CREATE TABLE IF NOT EXISTS " + qualify(db, Table) + columns +
			" ENGINE = ReplacingMergeTree() ORDER BY version"}
	}
	on := " ON CLUSTER " + literal(cluster)
	// One ledger for the whole cluster, replicated on every node so that
	// whichever node migrate talks to knows what was applied: its path
	// names the cluster (two clusters may share a ZooKeeper and database
	// names), and its replica names join {shard} and {replica}, which are
	// unique within a shard only.
	return []string{
		"CREATE DATABASE IF NOT EXISTS " + quoteIdent(db) + on,
		"CREATE TABLE IF NOT EXISTS " + qualify(db, Table) + on + columns +
			" ENGINE = ReplicatedReplacingMergeTree(" + literal(LedgerPath(cluster, db)) + ", '{shard}-{replica}')" +
			" ORDER BY version",
	}
}

// LedgerPath is the ZooKeeper path of a cluster's schema_migrations table.
func LedgerPath(cluster, db string) string {
	return "/clickhouse/tables/" + cluster + "/tokentrail_ledger/" + db + "/" + Table
}

func appliedVersions(ctx context.Context, conn driver.Conn, db string) (map[int]bool, error) {
	rows, err := conn.Query(ctx, "SELECT version FROM "+qualify(db, Table))
	if err != nil {
		return nil, fmt.Errorf("migrate: read %s.%s: %w", db, Table, err)
	}
	defer rows.Close()
	done := map[int]bool{}
	for rows.Next() {
		var v uint32
		if err := rows.Scan(&v); err != nil {
			return nil, fmt.Errorf("migrate: read %s.%s: %w", db, Table, err)
		}
		done[int(v)] = true
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("migrate: read %s.%s: %w", db, Table, err)
	}
	return done, nil
}

// text is the step's query, for error messages.
func (s step) text() string {
	if s.swap != nil {
		return "re-create Distributed table " + s.swap.table + " over " + s.swap.local
	}
	return s.sql
}

func (r *runner) run(ctx context.Context, s step) error {
	switch {
	case s.swap != nil:
		return r.swap(ctx, s.swap)
	case s.perShard:
		return r.perShard(ctx, s)
	}
	if g := s.guard; g != nil {
		done, err := guardDone(ctx, r.conn, g)
		if err != nil || done {
			return err
		}
	}
	return r.exec(ctx, s.sql)
}

// guardDone reports whether the guarded ALTER has nothing left to do on
// the server conn talks to.
func guardDone(ctx context.Context, conn driver.Conn, g *columnGuard) (bool, error) {
	var n uint64
	err := conn.QueryRow(ctx, "SELECT count() FROM system.columns WHERE database = ? AND table = ? AND name = ?",
		g.database, g.table, g.column).Scan(&n)
	if err != nil {
		return false, fmt.Errorf("look up column %s.%s: %w", g.table, g.column, err)
	}
	return (n > 0) == g.skipIfExists, nil
}

// perShard runs a Replicated table's ALTER on the first replica of each
// shard that answers (its replicas follow through ZooKeeper), guarded by
// that replica's system.columns.
func (r *runner) perShard(ctx context.Context, s step) error {
	if r.dial == nil {
		return fmt.Errorf("%w: an ALTER on cluster %s needs Options.Dial to reach each shard", ErrCluster, r.cluster)
	}
	shards, err := r.shards(ctx)
	if err != nil {
		return err
	}
	for num, hosts := range shards {
		var errs []string
		done := false
		for _, addr := range hosts {
			conn, err := r.dial(ctx, addr)
			if err != nil {
				errs = append(errs, addr+": "+err.Error()) // unreachable: try its replica
				continue
			}
			err = r.alterOn(ctx, conn, s)
			conn.Close()
			if errors.Is(err, context.DeadlineExceeded) && ctx.Err() == nil {
				return r.alterTimeout(ctx, hosts, addr, err)
			} else if err != nil {
				return fmt.Errorf("shard %d, %s: %w", num+1, addr, err)
			}
			done = true
			break
		}
		if !done {
			return fmt.Errorf("shard %d: no replica answered (%s)", num+1, strings.Join(errs, "; "))
		}
	}
	return nil
}

// alterOn runs the ALTER on one replica unless its guard says it is done.
// A replicated ALTER waits until the shard's other replicas took it, so it
// is bounded like ON CLUSTER DDL.
func (r *runner) alterOn(ctx context.Context, conn driver.Conn, s step) error {
	if g := s.guard; g != nil {
		if done, err := guardDone(ctx, conn, g); err != nil || done {
			return err
		}
	}
	actx, cancel := context.WithTimeout(ctx, r.ddlTimeout)
	defer cancel()
	err := conn.Exec(actx, s.sql)
	// The driver reports the deadline as a read timeout, sometimes a moment
	// before actx says it expired.
	var ne net.Error
	if err != nil && ctx.Err() == nil && (actx.Err() != nil || errors.As(err, &ne) && ne.Timeout()) {
		return fmt.Errorf("%w: %v", context.DeadlineExceeded, err)
	}
	return err
}

// alterTimeout names the replicas of the shard that an ALTER run on addr
// waited for: those that do not answer, or else all the others.
func (r *runner) alterTimeout(ctx context.Context, hosts []string, addr string, err error) error {
	te := &DDLTimeoutError{Cluster: r.cluster, Timeout: r.ddlTimeout, Err: err}
	var others []string
	for _, h := range hosts {
		if h == addr {
			continue
		}
		others = append(others, h)
		if c, derr := r.dial(ctx, h); derr != nil {
			te.Unfinished = append(te.Unfinished, h)
		} else {
			c.Close()
		}
	}
	if len(te.Unfinished) == 0 {
		te.Unfinished = others
	}
	return te
}

// shards lists the cluster's hosts by shard, replicas in order.
func (r *runner) shards(ctx context.Context) ([][]string, error) {
	rows, err := r.conn.Query(ctx, "SELECT shard_num, host_name, port FROM system.clusters WHERE cluster = ? ORDER BY shard_num, replica_num", r.cluster)
	if err != nil {
		return nil, fmt.Errorf("list the hosts of cluster %s: %w", r.cluster, err)
	}
	defer rows.Close()
	var out [][]string
	last := uint32(0)
	for rows.Next() {
		var num uint32
		var host string
		var port uint16
		if err := rows.Scan(&num, &host, &port); err != nil {
			return nil, fmt.Errorf("list the hosts of cluster %s: %w", r.cluster, err)
		}
		if num != last || len(out) == 0 {
			out, last = append(out, nil), num
		}
		out[len(out)-1] = append(out[len(out)-1], net.JoinHostPort(host, strconv.Itoa(int(port))))
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list the hosts of cluster %s: %w", r.cluster, err)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("%w: cluster %s is not in system.clusters", ErrCluster, r.cluster)
	}
	return out, nil
}

func (r *runner) swap(ctx context.Context, d *distSwap) error {
	var engine string
	err := r.conn.QueryRow(ctx, "SELECT engine_full FROM system.tables WHERE database = ? AND name = ?", d.database, d.table).Scan(&engine)
	if err != nil {
		return fmt.Errorf("read the engine of %s.%s: %w", d.database, d.table, err)
	}
	if !strings.HasPrefix(engine, "Distributed(") {
		return fmt.Errorf("%w: %s.%s has engine %s, want Distributed", ErrCluster, d.database, d.table, engine)
	}
	for _, q := range d.queries(engine) {
		if err := r.exec(ctx, q); err != nil {
			return err
		}
	}
	return nil
}

// exec runs one statement. ON CLUSTER statements wait at most the DDL
// timeout for every host; their per-host status rows are read so that a
// timeout can name the hosts that did not report.
func (r *runner) exec(ctx context.Context, q string) error {
	if r.cluster == "" {
		return r.conn.Exec(ctx, q)
	}
	secs := int((r.ddlTimeout + time.Second - 1) / time.Second)
	qctx := clickhouse.Context(ctx, clickhouse.WithSettings(clickhouse.Settings{"distributed_ddl_task_timeout": int64Setting(r.conn, secs)}))
	rows, err := r.conn.Query(qctx, q)
	if err != nil {
		return r.ddlError(ctx, err, nil)
	}
	defer rows.Close()
	var finished []string
	for rows.Next() {
		var (
			host                     string
			port                     uint16
			status                   int64
			hostErr                  string
			remaining, activeRemains uint64
		)
		if err := rows.Scan(&host, &port, &status, &hostErr, &remaining, &activeRemains); err != nil {
			return fmt.Errorf("read the DDL status of cluster %s: %w", r.cluster, err)
		}
		finished = append(finished, net.JoinHostPort(host, strconv.Itoa(int(port))))
	}
	if err := rows.Err(); err != nil {
		return r.ddlError(ctx, err, finished)
	}
	return nil
}

// int64Setting encodes a signed integer setting for the server. Servers
// before protocol revision 54429 (ClickHouse 18.16 is 54412) read settings
// in binary, Int64 ones as zig-zag varints, while clickhouse-go writes
// every integer as a plain varint: 3 would arrive as -2. Newer servers read
// settings as strings.
func int64Setting(conn driver.Conn, v int) int {
	if sv, err := conn.ServerVersion(); err == nil && sv.Revision <= 54429 && v >= 0 {
		return 2 * v
	}
	return v
}

func (r *runner) ddlError(ctx context.Context, err error, finished []string) error {
	var ex *clickhouse.Exception
	if !errors.As(err, &ex) || ex.Code != 159 { // TIMEOUT_EXCEEDED
		return err
	}
	te := &DDLTimeoutError{Cluster: r.cluster, Timeout: r.ddlTimeout, Err: err}
	shards, serr := r.shards(ctx)
	if serr != nil {
		te.Unfinished = []string{"(unknown: " + serr.Error() + ")"}
		return te
	}
	for _, hosts := range shards {
		for _, hp := range hosts {
			if !slices.Contains(finished, hp) {
				te.Unfinished = append(te.Unfinished, hp)
			}
		}
	}
	return te
}

func record(ctx context.Context, conn driver.Conn, db string, m Migration) error {
	b, err := conn.PrepareBatch(ctx, "INSERT INTO "+qualify(db, Table)+" (version, name, checksum, applied_at)")
	if err != nil {
		return err
	}
	defer b.Close()
	if err := b.Append(uint32(m.Version), m.Name, m.Checksum, time.Now().UTC()); err != nil {
		return err
	}
	return b.Send()
}

// excerpt shortens a statement for error messages.
func excerpt(s string) string {
	s = strings.Join(strings.Fields(s), " ")
	if len(s) > 60 {
		s = s[:57] + "..."
	}
	return s
}
