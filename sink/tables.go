package sink

import (
	"fmt"
	"math"
	"strings"
	"time"

	"github.com/tokentrail/tokentrail/schema"
)

// table is one ClickHouse table the sink inserts into: its column list,
// and the batch's column buffers in that order.
type table struct {
	name    string
	columns []string
	rows    func(b *batch) int
	values  func(b *batch) []any
}

// insertQuery lists the columns explicitly: ClickHouse 18.16 rejects a
// PrepareBatch without them, and added columns keep their defaults.
func (t table) insertQuery() string {
	return "INSERT INTO " + t.name + " (" + strings.Join(t.columns, ", ") + ")"
}

var tokenColumnNames = []string{"tenant", "id", "label", "type", "status", "value_fingerprint", "created_timestamp",
	"expires_timestamp", "last_used_timestamp", "revoked_timestamp", "deleted", "collected_at", "version", "schema_version"}

// tables in insert order. tokens and token_changes get the same rows.
var tables = []table{
	{
		name:    "audit_events",
		columns: []string{"tenant", "id", "action", "actor", "description", "timestamp", "token_id", "collected_at", "version", "schema_version"},
		rows:    func(b *batch) int { return len(b.audit.id) },
		values: func(b *batch) []any {
			c := &b.audit
			return []any{c.tenant, c.id, c.action, c.actor, c.description, c.timestamp, c.tokenID, c.collectedAt, c.version, c.schemaVersion}
		},
	},
	{name: "tokens", columns: tokenColumnNames, rows: tokenRows, values: tokenValues},
	{name: "token_changes", columns: tokenColumnNames, rows: tokenRows, values: tokenValues},
	{
		name:    "settings_changes",
		columns: []string{"tenant", "max_active_tokens", "tokens_required", "collected_at", "version", "schema_version"},
		rows:    func(b *batch) int { return len(b.settings.tenant) },
		values: func(b *batch) []any {
			c := &b.settings
			return []any{c.tenant, c.maxActive, c.tokensRequired, c.collectedAt, c.version, c.schemaVersion}
		},
	},
	coverageTable,
}

func tokenRows(b *batch) int { return len(b.tokens.id) }

func tokenValues(b *batch) []any {
	c := &b.tokens
	return []any{c.tenant, c.id, c.label, c.tokenType, c.status, c.fingerprint, c.created, c.expires, c.lastUsed,
		c.revoked, c.deleted, c.collectedAt, c.version, c.schemaVersion}
}

type auditColumns struct {
	tenant, id, action, actor, description, tokenID []string
	timestamp, collectedAt                          []time.Time
	version                                         []uint64
	schemaVersion                                   []uint16
}

type tokenColumns struct {
	tenant, id, label, tokenType, status, fingerprint []string
	created, collectedAt                              []time.Time
	expires, lastUsed, revoked                        []*time.Time
	deleted                                           []uint8
	version                                           []uint64
	schemaVersion                                     []uint16
}

type settingsColumns struct {
	tenant         []string
	maxActive      []*int64
	tokensRequired []uint8
	collectedAt    []time.Time
	version        []uint64
	schemaVersion  []uint16
}

// add appends a record's row(s) to the batch's columns. It rejects, as an
// invalid field, a timestamp ClickHouse's DateTime cannot hold: the driver
// would otherwise store a wrapped-around date without an error.
func (b *batch) add(r schema.Record) error {
	env := r.Header()
	if err := checkTime("collected_at", env.CollectedAt); err != nil {
		return err
	}
	version, sv := uint64(env.CollectedAt.UnixNano()), uint16(env.SchemaVersion)
	switch r := r.(type) {
	case *schema.AuditEvent:
		if err := checkTime("timestamp", r.Timestamp); err != nil {
			return err
		}
		c := &b.audit
		c.tenant = append(c.tenant, env.Tenant)
		c.id = append(c.id, r.ID)
		c.action = append(c.action, r.Action)
		c.actor = append(c.actor, r.Actor)
		c.description = append(c.description, r.Description)
		c.timestamp = append(c.timestamp, r.Timestamp)
		c.tokenID = append(c.tokenID, r.TokenID)
		c.collectedAt = append(c.collectedAt, env.CollectedAt)
		c.version = append(c.version, version)
		c.schemaVersion = append(c.schemaVersion, sv)
	case *schema.Token:
		created := r.CreatedTimestamp
		if created.IsZero() { // a deleted token seen without one
			created = time.Unix(0, 0).UTC()
		}
		for _, ts := range []struct {
			field string
			t     *time.Time
		}{{"created_timestamp", &created}, {"expires_timestamp", r.ExpiresTimestamp},
			{"last_used_timestamp", r.LastUsedTimestamp}, {"revoked_timestamp", r.RevokedTimestamp}} {
			if ts.t != nil {
				if err := checkTime(ts.field, *ts.t); err != nil {
					return err
				}
			}
		}
		c := &b.tokens
		c.tenant = append(c.tenant, env.Tenant)
		c.id = append(c.id, r.ID)
		c.label = append(c.label, r.Label)
		c.tokenType = append(c.tokenType, r.TokenType)
		c.status = append(c.status, r.Status)
		c.fingerprint = append(c.fingerprint, r.ValueFingerprint)
		c.created = append(c.created, created)
		c.expires = append(c.expires, r.ExpiresTimestamp)
		c.lastUsed = append(c.lastUsed, r.LastUsedTimestamp)
		c.revoked = append(c.revoked, r.RevokedTimestamp)
		c.deleted = append(c.deleted, boolByte(r.Deleted))
		c.collectedAt = append(c.collectedAt, env.CollectedAt)
		c.version = append(c.version, version)
		c.schemaVersion = append(c.schemaVersion, sv)
	case *schema.Settings:
		c := &b.settings
		c.tenant = append(c.tenant, env.Tenant)
		c.maxActive = append(c.maxActive, r.MaxActiveTokens)
		c.tokensRequired = append(c.tokensRequired, boolByte(r.TokensRequired))
		c.collectedAt = append(c.collectedAt, env.CollectedAt)
		c.version = append(c.version, version)
		c.schemaVersion = append(c.schemaVersion, sv)
	case *schema.Coverage:
		return b.addCoverage(r, version, sv)
	default:
		return &schema.DecodeError{Field: "record_type", Reason: fmt.Sprintf("%q has no table", r.Type()), Err: schema.ErrUnknownRecordType}
	}
	return nil
}

// checkTime accepts what DateTime holds: whole seconds 0 to 2^32-1 since
// the epoch (1970-01-01 to 2106-02-07).
func checkTime(field string, t time.Time) error {
	if s := t.Unix(); s < 0 || s > math.MaxUint32 {
		return &schema.DecodeError{Field: field, Reason: fmt.Sprintf("%s is outside what ClickHouse DateTime stores (1970-01-01 to 2106-02-07)",
			t.Format(time.RFC3339)), Err: schema.ErrInvalid}
	}
	return nil
}

func boolByte(b bool) uint8 {
	if b {
		return 1
	}
	return 0
}

func (c *auditColumns) reset() {
	*c = auditColumns{c.tenant[:0], c.id[:0], c.action[:0], c.actor[:0], c.description[:0], c.tokenID[:0],
		c.timestamp[:0], c.collectedAt[:0], c.version[:0], c.schemaVersion[:0]}
}

func (c *tokenColumns) reset() {
	*c = tokenColumns{c.tenant[:0], c.id[:0], c.label[:0], c.tokenType[:0], c.status[:0], c.fingerprint[:0],
		c.created[:0], c.collectedAt[:0], c.expires[:0], c.lastUsed[:0], c.revoked[:0], c.deleted[:0], c.version[:0], c.schemaVersion[:0]}
}

func (c *settingsColumns) reset() {
	*c = settingsColumns{c.tenant[:0], c.maxActive[:0], c.tokensRequired[:0], c.collectedAt[:0], c.version[:0], c.schemaVersion[:0]}
}
