//go:build chdb

package sink

import (
	"context"
	"os"
	"testing"
	"time"

	"github.com/tokentrail/tokentrail/internal/chdbtest"
	"github.com/tokentrail/tokentrail/schema"
	"github.com/tokentrail/tokentrail/schema/migrate"
)

func TestMain(m *testing.M) { os.Exit(chdbtest.Main(m)) }

// The sink's INSERT column lists and column values fit the migrated tables
// of ClickHouse 26.7 (chDB) as they fit 18.16's: every table's insert, with
// NULL and set optional fields, runs through insertOnce.
func TestInsertsOnCurrentClickHouse(t *testing.T) {
	ctx := context.Background()
	cur := chdbtest.Open(t)
	if _, err := migrate.Apply(ctx, cur, migrate.Options{}); err != nil {
		t.Fatal(err)
	}
	at := time.Date(2026, 7, 1, 12, 0, 0, 0, time.UTC)
	max := int64(25)
	var b batch
	for _, r := range []schema.Record{
		&schema.AuditEvent{Envelope: schema.NewEnvelope(schema.TypeAuditEvent, "t1", at), ID: "e1", Action: "token_create",
			Actor: "alice", Description: "created", Timestamp: at.Add(-time.Minute), TokenID: "k1"},
		&schema.Token{Envelope: schema.NewEnvelope(schema.TypeToken, "t1", at), ID: "k1", Label: "l", TokenType: "customer_managed",
			Status: "valid", ValueFingerprint: "f", CreatedTimestamp: at.Add(-time.Hour), ExpiresTimestamp: &at},
		&schema.Token{Envelope: schema.NewEnvelope(schema.TypeToken, "t1", at), ID: "k2", Status: "revoked",
			CreatedTimestamp: at.Add(-time.Hour), LastUsedTimestamp: &at, RevokedTimestamp: &at, Deleted: true},
		&schema.Settings{Envelope: schema.NewEnvelope(schema.TypeSettings, "t1", at), MaxActiveTokens: &max, TokensRequired: true},
		&schema.Settings{Envelope: schema.NewEnvelope(schema.TypeSettings, "t2", at)},
	} {
		if err := b.add(r); err != nil {
			t.Fatal(err)
		}
	}
	s := &Sink{ch: cur}
	for _, tb := range tables {
		if err := s.insertOnce(ctx, tb, &b); err != nil {
			t.Errorf("%s: %v", tb.insertQuery(), err)
			continue
		}
		var n uint64
		if err := cur.QueryRow(ctx, "SELECT count() FROM "+tb.name+" FINAL").Scan(&n); err != nil || int(n) != tb.rows(&b) {
			t.Errorf("%s holds %d rows (%v), want %d", tb.name, n, err, tb.rows(&b))
		}
	}
	var revoked, expires *time.Time
	if err := cur.QueryRow(ctx, "SELECT revoked_timestamp, (SELECT expires_timestamp FROM tokens WHERE id = 'k1') FROM tokens WHERE id = 'k2'").
		Scan(&revoked, &expires); err != nil || revoked == nil || !revoked.Equal(at) || expires == nil || !expires.Equal(at) {
		t.Errorf("read back revoked %v, expires %v (%v); want %v", revoked, expires, err, at)
	}
}
