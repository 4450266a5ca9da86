// Package querytest loads report fixtures into a real ClickHouse database:
// it creates the schema from schema/migrations, inserts token, audit and
// settings records the way the sink stores them, and provides the fixed
// review scenario the golden tests and examples run on.
package querytest

import (
	"context"
	"fmt"
	"testing"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	"github.com/tokentrail/tokentrail/internal/chtest"
	"github.com/tokentrail/tokentrail/schema"
	"github.com/tokentrail/tokentrail/schema/migrate"
)

// Fixture is a set of collected records. Every token record is one collected
// version of that token: Load writes each to token_changes and to tokens,
// whose ReplacingMergeTree keeps the newest one, as the sink does.
type Fixture struct {
	Tokens   []schema.Token
	Audit    []schema.AuditEvent
	Settings []schema.Settings
	Coverage []schema.Coverage
}

// Add appends the records of other to f.
func (f *Fixture) Add(other Fixture) {
	f.Tokens = append(f.Tokens, other.Tokens...)
	f.Audit = append(f.Audit, other.Audit...)
	f.Settings = append(f.Settings, other.Settings...)
	f.Coverage = append(f.Coverage, other.Coverage...)
}

// Migrate applies the project's migrations (schema/migrate, the runner
// ingest migrate uses) to the database conn points at.
func Migrate(ctx context.Context, conn driver.Conn) error {
	_, err := migrate.Apply(ctx, conn, migrate.Options{})
	return err
}

// NewDatabase creates a fresh database on s with the schema applied and
// returns its name and a connection to it.
func NewDatabase(t testing.TB, s *chtest.Server) (string, driver.Conn) {
	t.Helper()
	ctx := context.Background()
	db := s.NewDatabase()
	if err := s.Conn(t, "").Exec(ctx, "CREATE DATABASE "+db); err != nil {
		t.Fatalf("create database %s: %v", db, err)
	}
	conn := s.Conn(t, db)
	if err := Migrate(ctx, conn); err != nil {
		t.Fatal(err)
	}
	return db, conn
}

// Load inserts f into the database conn points at, one batch per table,
// with the sink's row mapping (schema.Columns).
func Load(ctx context.Context, conn driver.Conn, f Fixture) error {
	var audit schema.Columns[schema.AuditEvent]
	var tokens schema.Columns[schema.Token]
	var settings schema.Columns[schema.Settings]
	var coverage schema.Columns[schema.Coverage]
	for i := range f.Audit {
		if err := audit.Append(&f.Audit[i]); err != nil {
			return fmt.Errorf("audit event %s: %w", f.Audit[i].ID, err)
		}
	}
	for i := range f.Tokens {
		if err := tokens.Append(&f.Tokens[i]); err != nil {
			return fmt.Errorf("token %s: %w", f.Tokens[i].ID, err)
		}
	}
	for i := range f.Settings {
		if err := settings.Append(&f.Settings[i]); err != nil {
			return fmt.Errorf("settings of %s: %w", f.Settings[i].Tenant, err)
		}
	}
	for i := range f.Coverage {
		if err := coverage.Append(&f.Coverage[i]); err != nil {
			return fmt.Errorf("coverage of %s: %w", f.Coverage[i].Tenant, err)
		}
	}
	for _, t := range schema.Tables() {
		var rows int
		var values []any
		switch t.RecordType {
		case schema.TypeAuditEvent:
			rows, values = audit.Len(), audit.Values()
		case schema.TypeToken:
			rows, values = tokens.Len(), tokens.Values()
		case schema.TypeSettings:
			rows, values = settings.Len(), settings.Values()
		case schema.TypeCoverage:
			rows, values = coverage.Len(), coverage.Values()
		}
		if rows == 0 {
			continue
		}
		if err := insert(ctx, conn, t, values); err != nil {
			return err
		}
	}
	return nil
}

func insert(ctx context.Context, conn driver.Conn, t schema.Table, values []any) error {
	b, err := conn.PrepareBatch(ctx, t.InsertQuery())
	if err != nil {
		return fmt.Errorf("prepare %s: %w", t.Name, err)
	}
	defer b.Close()
	for i, v := range values {
		if err := b.Column(i).Append(v); err != nil {
			return fmt.Errorf("%s column %s: %w", t.Name, t.Columns[i].Name, err)
		}
	}
	if err := b.Send(); err != nil {
		return fmt.Errorf("insert %s: %w", t.Name, err)
	}
	return nil
}
