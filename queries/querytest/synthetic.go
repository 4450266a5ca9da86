package querytest

import (
	"context"
	"fmt"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
)

// Synthetic describes a generated tenant for benchmarks.
type Synthetic struct {
	Tokens      int       // tokens, each with three collected versions in token_changes
	AuditEvents int       // audit events, spread evenly over the year before Now
	Now         time.Time // the newest collection
}

// LoadSynthetic generates a large deterministic tenant "default" inside
// ClickHouse (INSERT ... SELECT FROM numbers(), no data crosses the wire):
// tokens created over two years, 10% revoked, 2% deleted, a third without
// expiry, a seventh never used; three collected versions per token; audit
// events by 50 actors over the last 365 days (1% creations, 59% updates, 15%
// revocations, 15% restores, 5% deletions, 4% settings updates, 1% an
// unknown action, every token getting a mix); 50 settings versions. It then merges the tables
// (OPTIMIZE ... FINAL), the state background merges converge to.
func LoadSynthetic(ctx context.Context, conn driver.Conn, s Synthetic) error {
	now := fmt.Sprintf("toDateTime('%s', 'UTC')", s.Now.UTC().Format(time.DateTime))
	tokenID := "lower(hex(MD5(concat('t', toString(%s)))))"
	stmts := []string{
		// token_changes: version 0 at creation, 1 twenty days ago, 2 an hour ago (the current state).
		fmt.Sprintf(`INSERT INTO token_changes (tenant, id, label, type, status, value_fingerprint, created_timestamp,
			expires_timestamp, last_used_timestamp, revoked_timestamp, deleted, collected_at, version, schema_version)
		SELECT 'default', `+fmt.Sprintf(tokenID, "n")+`, concat('token ', toString(n)), 'customer_managed',
			if(v = 2 AND n %% 10 = 0, 'revoked', 'valid'), lower(hex(MD5(concat('v', toString(n))))),
			created, if(n %% 3 = 0, NULL, created + 400 * 86400),
			multiIf(n %% 7 = 0 OR v = 0, NULL, v = 1, last_used - 10 * 86400, last_used),
			if(v = 2 AND n %% 10 = 0, created + 30 * 86400, NULL),
			toUInt8(v = 2 AND n %% 50 = 0), collected, toUInt64(collected) * 1000000000, 1
		FROM (
			SELECT intDiv(number, 3) AS n, number %% 3 AS v,
				%[1]s - 730 * 86400 + n * intDiv(700 * 86400, %[2]d) AS created,
				toDateTime(greatest(created + 3600, %[1]s - (n %% 200) * 86400 - (n %% 86400)), 'UTC') AS last_used,
				toDateTime(multiIf(v = 0, created + 60, v = 1, %[1]s - 20 * 86400, %[1]s - 3600), 'UTC') AS collected
			FROM numbers(%[3]d)
		)`, now, s.Tokens, 3*s.Tokens),
		fmt.Sprintf(`INSERT INTO tokens (tenant, id, label, type, status, value_fingerprint, created_timestamp,
			expires_timestamp, last_used_timestamp, revoked_timestamp, deleted, collected_at, version, schema_version)
		SELECT tenant, id, label, type, status, value_fingerprint, created_timestamp, expires_timestamp,
			last_used_timestamp, revoked_timestamp, deleted, collected_at, version, schema_version
		FROM token_changes WHERE collected_at = %s - 3600`, now),
		fmt.Sprintf(`INSERT INTO audit_events (tenant, id, action, actor, description, timestamp, token_id,
			collected_at, version, schema_version)
		SELECT 'default', lower(hex(MD5(toString(number)))), action, concat('user', toString(number %% 50), '@example.com'),
			concat('event ', toString(number)), ts,
			if(action = 'customer_settings_update', '', `+fmt.Sprintf(tokenID, "number %% "+fmt.Sprint(s.Tokens))+`),
			ts + 120, toUInt64(ts + 120) * 1000000000, 1
		FROM (
			SELECT number,
				(number + intDiv(number, %[3]d)) %% 100 AS slot,
				multiIf(slot < 1, 'token_create', slot < 60, 'token_update', slot < 75, 'token_revoke',
					slot < 90, 'token_restore', slot < 95, 'token_delete',
					slot < 99, 'customer_settings_update', 'token_rotate') AS action,
				toDateTime(%[1]s - 365 * 86400 + intDiv(number * 31536000, %[2]d), 'UTC') AS ts
			FROM numbers(%[2]d)
		)`, now, s.AuditEvents, s.Tokens),
		fmt.Sprintf(`INSERT INTO settings_changes (tenant, max_active_tokens, tokens_required, collected_at, version, schema_version)
		SELECT 'default', if(number %% 5 = 4, NULL, toInt64(%[2]d + (number %% 3) * 1000)), toUInt8(number %% 2),
			ts, toUInt64(ts) * 1000000000, 1
		FROM (SELECT number, toDateTime(%[1]s - (50 - number) * 7 * 86400, 'UTC') AS ts FROM numbers(50))`, now, s.Tokens),
	}
	for _, q := range stmts {
		if err := conn.Exec(ctx, q); err != nil {
			return fmt.Errorf("generate: %w\n%s", err, q)
		}
	}
	for _, table := range []string{"tokens", "token_changes", "audit_events", "settings_changes"} {
		if err := conn.Exec(ctx, "OPTIMIZE TABLE "+table+" FINAL"); err != nil {
			return fmt.Errorf("optimize %s: %w", table, err)
		}
	}
	return nil
}
