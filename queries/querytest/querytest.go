// Package querytest loads report fixtures into a real ClickHouse database:
// it creates the schema from schema/migrations, inserts token, audit and
// settings records the way the sink stores them, and provides the fixed
// review scenario the golden tests and examples run on.
package querytest

import (
	"context"
	"fmt"
	"testing"
	"time"

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

const tokenColumns = "tenant, id, label, type, status, value_fingerprint, created_timestamp, expires_timestamp, " +
	"last_used_timestamp, revoked_timestamp, deleted, collected_at, version, schema_version"

// Load inserts f into the database conn points at, one batch per table.
func Load(ctx context.Context, conn driver.Conn, f Fixture) error {
	for _, table := range []string{"tokens", "token_changes"} {
		if len(f.Tokens) == 0 {
			break
		}
		b, err := conn.PrepareBatch(ctx, "INSERT INTO "+table+" ("+tokenColumns+")")
		if err != nil {
			return fmt.Errorf("prepare %s: %w", table, err)
		}
		for _, t := range f.Tokens {
			var deleted uint8
			if t.Deleted {
				deleted = 1
			}
			if err := b.Append(t.Tenant, t.ID, t.Label, t.TokenType, t.Status, t.ValueFingerprint,
				t.CreatedTimestamp, t.ExpiresTimestamp, t.LastUsedTimestamp, t.RevokedTimestamp,
				deleted, t.CollectedAt, version(t.CollectedAt), uint16(schema.Version)); err != nil {
				return fmt.Errorf("append %s %s: %w", table, t.ID, err)
			}
		}
		if err := b.Send(); err != nil {
			return fmt.Errorf("insert %s: %w", table, err)
		}
	}
	if len(f.Audit) > 0 {
		b, err := conn.PrepareBatch(ctx, "INSERT INTO audit_events "+
			"(tenant, id, action, actor, description, timestamp, token_id, collected_at, version, schema_version)")
		if err != nil {
			return fmt.Errorf("prepare audit_events: %w", err)
		}
		for _, e := range f.Audit {
			if err := b.Append(e.Tenant, e.ID, e.Action, e.Actor, e.Description, e.Timestamp, e.TokenID,
				e.CollectedAt, version(e.CollectedAt), uint16(schema.Version)); err != nil {
				return fmt.Errorf("append audit event %s: %w", e.ID, err)
			}
		}
		if err := b.Send(); err != nil {
			return fmt.Errorf("insert audit_events: %w", err)
		}
	}
	if len(f.Settings) > 0 {
		b, err := conn.PrepareBatch(ctx, "INSERT INTO settings_changes "+
			"(tenant, max_active_tokens, tokens_required, collected_at, version, schema_version)")
		if err != nil {
			return fmt.Errorf("prepare settings_changes: %w", err)
		}
		for _, s := range f.Settings {
			var required uint8
			if s.TokensRequired {
				required = 1
			}
			if err := b.Append(s.Tenant, s.MaxActiveTokens, required, s.CollectedAt, version(s.CollectedAt),
				uint16(schema.Version)); err != nil {
				return fmt.Errorf("append settings: %w", err)
			}
		}
		if err := b.Send(); err != nil {
			return fmt.Errorf("insert settings_changes: %w", err)
		}
	}
	if len(f.Coverage) > 0 {
		b, err := conn.PrepareBatch(ctx, "INSERT INTO collection_coverage (tenant, poll_started, audit_from, audit_to, "+
			"query_from, api_total, published, published_late, tokens_snapshot, tokens, settings_snapshot, failures, error, "+
			"collected_at, version, schema_version)")
		if err != nil {
			return fmt.Errorf("prepare collection_coverage: %w", err)
		}
		for _, c := range f.Coverage {
			if err := b.Append(c.Tenant, c.PollStarted, c.AuditFrom, c.AuditTo, c.QueryFrom, c.APITotal, c.Published,
				c.PublishedLate, boolByte(c.TokensSnapshot), c.Tokens, boolByte(c.SettingsSnapshot), uint32(c.Failures), c.Error,
				c.CollectedAt, version(c.CollectedAt), uint16(schema.Version)); err != nil {
				return fmt.Errorf("append coverage: %w", err)
			}
		}
		if err := b.Send(); err != nil {
			return fmt.Errorf("insert collection_coverage: %w", err)
		}
	}
	return nil
}

func boolByte(b bool) uint8 {
	if b {
		return 1
	}
	return 0
}

// version is the sink's ReplacingMergeTree version: collected_at in ns.
func version(collectedAt time.Time) uint64 { return uint64(collectedAt.UnixNano()) }
