package migrate

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"path"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"

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
}

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
	if err := bootstrap(ctx, conn, db, opts.Cluster); err != nil {
		return nil, err
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
		for j, steps := range plans[i] {
			for _, s := range steps {
				if err := run(ctx, conn, s); err != nil {
					return applied, &Error{Migration: m.Name, Statement: j + 1, Query: s.sql, Err: err}
				}
			}
		}
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

func bootstrap(ctx context.Context, conn driver.Conn, db, cluster string) error {
	for _, q := range bootstrapQueries(db, cluster) {
		if err := conn.Exec(ctx, q); err != nil {
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
	// One replicated table on every node (no {shard} in the path), so that
	// whichever node migrate talks to knows what was applied.
	return []string{
		"CREATE DATABASE IF NOT EXISTS " + quoteIdent(db) + on,
		"CREATE TABLE IF NOT EXISTS " + qualify(db, Table) + on + columns +
			" ENGINE = ReplicatedReplacingMergeTree(" + literal("/clickhouse/tables/tokentrail/"+db+"/"+Table) + ", '{replica}')" +
			" ORDER BY version",
	}
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

func run(ctx context.Context, conn driver.Conn, s step) error {
	if g := s.guard; g != nil {
		var n uint64
		err := conn.QueryRow(ctx, "SELECT count() FROM system.columns WHERE database = ? AND table = ? AND name = ?",
			g.database, g.table, g.column).Scan(&n)
		if err != nil {
			return fmt.Errorf("look up column %s.%s: %w", g.table, g.column, err)
		}
		if (n > 0) == g.skipIfExists {
			return nil
		}
	}
	return conn.Exec(ctx, s.sql)
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
