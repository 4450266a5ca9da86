package querytest

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"time"

	"github.com/tokentrail/tokentrail/schema"
)

// ScenarioNow is the reference time of Scenario: run reports with now set to
// it (the default 30-day period then starts on 2025-05-31 12:00:00).
var ScenarioNow = time.Date(2025, 6, 30, 12, 0, 0, 0, time.UTC)

// Tenant is the tenant Scenario's tokens belong to; Scenario also holds a
// few records of tenant "other" that no report on Tenant may show.
const Tenant = "default"

// T parses a "2006-01-02 15:04" UTC time; it panics on a malformed literal,
// which only fixtures written in code contain.
func T(s string) time.Time {
	t, err := time.Parse("2006-01-02 15:04", s)
	if err != nil {
		panic(err)
	}
	return t
}

// P returns a pointer to T(s).
func P(s string) *time.Time { t := T(s); return &t }

// CID returns the Falcon CID of the scenario's tenant (32 hex digits derived
// from its name).
func CID(tenant string) string {
	h := sha256.Sum256([]byte(tenant))
	return hex.EncodeToString(h[:16])
}

// TokenID returns the fixed 32-hex id of scenario token n.
func TokenID(n int) string { return fmt.Sprintf("%032x", 0xa000+n) }

// TokenBuilder records the collected versions of one token.
type TokenBuilder struct {
	cur      schema.Token
	versions []schema.Token
	audit    []schema.AuditEvent
}

// NewToken starts a token created at created; the first version is
// collected one minute later.
func NewToken(tenant, id, label, created string, expires *time.Time) *TokenBuilder {
	b := &TokenBuilder{cur: schema.Token{
		Envelope: schema.NewEnvelope(schema.TypeToken, CID(tenant), tenant, time.Time{}),
		ID:       id, TokenState: schema.TokenState{Label: label, TokenType: "customer_managed", Status: "valid",
			ValueFingerprint: fmt.Sprintf("%064x", len(id)+len(label)),
			CreatedTimestamp: T(created), ExpiresTimestamp: expires},
	}}
	return b.Snapshot(T(created).Add(time.Minute))
}

// Snapshot records the current state as collected at when.
func (b *TokenBuilder) Snapshot(when time.Time) *TokenBuilder {
	v := b.cur
	v.CollectedAt, v.EventTime = when, when
	v.Complete()
	b.versions = append(b.versions, v)
	return b
}

// Change applies fn at time at and records the version collected a minute
// later.
func (b *TokenBuilder) Change(at string, fn func(t *schema.Token)) *TokenBuilder {
	fn(&b.cur)
	return b.Snapshot(T(at).Add(time.Minute))
}

// Use records a sensor install with the token at at.
func (b *TokenBuilder) Use(at string) *TokenBuilder {
	return b.Change(at, func(t *schema.Token) { t.LastUsedTimestamp = P(at) })
}

// Event records an audit event about the token.
func (b *TokenBuilder) Event(id int, action, actor, at, description string) *TokenBuilder {
	b.audit = append(b.audit, Event(b.cur.Tenant, id, action, actor, at, b.cur.ID, description))
	return b
}

// Fixture returns the collected versions and audit events.
func (b *TokenBuilder) Fixture() Fixture {
	return Fixture{Tokens: b.versions, Audit: b.audit}
}

// Event returns an audit event collected two minutes after it happened.
func Event(tenant string, id int, action, actor, at, tokenID, description string) schema.AuditEvent {
	e := schema.AuditEvent{
		Envelope: schema.NewEnvelope(schema.TypeAuditEvent, CID(tenant), tenant, T(at).Add(2*time.Minute)),
		ID:       fmt.Sprintf("%032x", 0xe000+id), Action: action, Actor: actor,
		Description: description, Timestamp: T(at), TokenID: tokenID,
	}
	e.Complete()
	return e
}

// Settings returns a settings record collected at at.
func Settings(tenant, at string, maxActive int64, required bool) schema.Settings {
	s := schema.Settings{Envelope: schema.NewEnvelope(schema.TypeSettings, CID(tenant), tenant, T(at)), TokensRequired: required,
		ID: schema.SettingsID(CID(tenant), tenant, T(at))}
	if maxActive > 0 {
		s.MaxActiveTokens = &maxActive
	}
	return s
}

// Scenario is the fixed review scenario of the golden tests: eleven tokens of
// tenant "default" that between them trigger every report row and every
// policy finding, plus a token of tenant "other".
//
//	 1 Windows servers      used often in the period, label changed, never expires
//	 2 Linux fleet          expires in 4 days (expiry extended once)
//	 3 Old laptop batch     last used 135 days ago: stale
//	 4 Never used old       created 149 days ago, never used: stale, never expires
//	 5 New kiosk            created 5 days ago, never used: not yet stale
//	 6 Contractors          revoked, then used after the revocation
//	 7 Temp test            created and deleted 20 minutes later by the same actor, never revoked
//	 8 Retired DMZ          revoked, then deleted
//	 9 Restored <b>…        revoked, restored, used again; label needs escaping
//	10 Build agents, CI     expires in 20 days; label needs CSV quoting
//	11 Expired pilot        expired in the period
//
// Settings: tokens_required disabled on 2025-06-10 by alice, max_active_tokens
// lowered to 8 on 2025-06-20 by bob, with 7 tokens active: above 80%.
func Scenario() Fixture {
	const d = Tenant
	var f Fixture
	revoke := func(at string) func(*schema.Token) {
		return func(t *schema.Token) { t.Status, t.RevokedTimestamp = "revoked", P(at) }
	}
	restore := func(t *schema.Token) { t.Status, t.RevokedTimestamp = "valid", nil }
	deleted := func(t *schema.Token) { t.Deleted = true }

	f.Add(NewToken(d, TokenID(1), "Windows srv", "2025-01-10 09:00", nil).
		Event(1, "token_create", "alice@example.com", "2025-01-10 09:00", "token Windows srv created").
		Change("2025-02-01 10:00", func(t *schema.Token) { t.Label = "Windows servers" }).
		Event(2, "token_update", "bob@example.com", "2025-02-01 10:00", "label changed to Windows servers").
		Use("2025-05-20 08:00").Use("2025-06-02 08:00").Use("2025-06-05 10:00").
		Event(3, "token_rotate", "frank@example.com", "2025-06-18 16:00", "unknown action kept verbatim").
		Use("2025-06-20 14:00").Use("2025-06-29 07:00").Use("2025-06-29 09:30").Fixture())

	f.Add(NewToken(d, TokenID(2), "Linux fleet", "2025-03-01 10:00", P("2025-04-15 00:00")).
		Event(4, "token_create", "alice@example.com", "2025-03-01 10:00", "token Linux fleet created").
		Change("2025-04-01 12:00", func(t *schema.Token) { t.ExpiresTimestamp = P("2025-07-04 12:00") }).
		Event(5, "token_update", "carol@example.com", "2025-04-01 12:00", "expiry extended to 2025-07-04").
		Use("2025-06-10 11:00").Use("2025-06-28 17:45").Fixture())

	f.Add(NewToken(d, TokenID(3), "Old laptop batch", "2024-12-01 09:00", P("2026-01-01 00:00")).
		Event(6, "token_create", "alice@example.com", "2024-12-01 09:00", "token Old laptop batch created").
		Use("2025-02-15 12:00").Fixture())

	f.Add(NewToken(d, TokenID(4), "Never used old", "2025-02-01 09:00", nil).
		Event(7, "token_create", "bob@example.com", "2025-02-01 09:00", "token Never used old created").Fixture())

	f.Add(NewToken(d, TokenID(5), "New kiosk", "2025-06-25 15:00", P("2025-12-31 00:00")).
		Event(8, "token_create", "carol@example.com", "2025-06-25 15:00", "token New kiosk created").Fixture())

	f.Add(NewToken(d, TokenID(6), "Contractors", "2025-01-15 09:00", P("2025-12-31 00:00")).
		Event(9, "token_create", "alice@example.com", "2025-01-15 09:00", "token Contractors created").
		Use("2025-05-28 09:00").
		Change("2025-06-01 10:00", revoke("2025-06-01 10:00")).
		Event(10, "token_revoke", "bob@example.com", "2025-06-01 10:00", "token Contractors revoked").
		Use("2025-06-03 07:00").Fixture())

	f.Add(NewToken(d, TokenID(7), "Temp test", "2025-06-12 09:00", nil).
		Event(11, "token_create", "dave@example.com", "2025-06-12 09:00", "token Temp test created").
		Change("2025-06-12 09:20", deleted).
		Event(12, "token_delete", "dave@example.com", "2025-06-12 09:20", "token Temp test deleted").Fixture())

	f.Add(NewToken(d, TokenID(8), "Retired DMZ", "2025-01-20 09:00", P("2026-01-20 00:00")).
		Event(13, "token_create", "alice@example.com", "2025-01-20 09:00", "token Retired DMZ created").
		Use("2025-05-01 09:00").
		Change("2025-06-15 09:00", revoke("2025-06-15 09:00")).
		Event(14, "token_revoke", "bob@example.com", "2025-06-15 09:00", "token Retired DMZ revoked").
		Change("2025-06-16 09:00", deleted).
		Event(15, "token_delete", "bob@example.com", "2025-06-16 09:00", "token Retired DMZ deleted").Fixture())

	label9 := `Restored <b>"Prod" & 'EU'</b> | x`
	f.Add(NewToken(d, TokenID(9), label9, "2025-04-01 09:00", P("2025-09-30 00:00")).
		Event(16, "token_create", "carol@example.com", "2025-04-01 09:00", "token created: "+label9).
		Use("2025-04-02 10:00").
		Change("2025-06-05 09:00", revoke("2025-06-05 09:00")).
		Event(17, "token_revoke", "bob@example.com", "2025-06-05 09:00", "token revoked").
		Change("2025-06-07 09:00", restore).
		Event(18, "token_restore", "alice@example.com", "2025-06-07 09:00", "token restored").
		Use("2025-06-08 12:00").Fixture())

	f.Add(NewToken(d, TokenID(10), "Build agents, CI", "2025-05-20 09:00", P("2025-07-20 00:00")).
		Event(19, "token_create", "api-client-7f3a", "2025-05-20 09:00", "token Build agents, CI created").
		Use("2025-06-15 03:00").Use("2025-06-20 08:15").Fixture())

	f.Add(NewToken(d, TokenID(11), "Expired pilot", "2025-01-05 09:00", P("2025-06-05 00:00")).
		Event(20, "token_create", "alice@example.com", "2025-01-05 09:00", "token Expired pilot created").
		Use("2025-05-30 16:00").Fixture())

	f.Settings = append(f.Settings,
		Settings(d, "2025-03-01 08:00", 20, true),
		Settings(d, "2025-03-02 08:00", 20, true), // unchanged re-collection: no change row
		Settings(d, "2025-06-10 09:00", 20, false),
		Settings(d, "2025-06-20 10:00", 8, false),
	)
	f.Audit = append(f.Audit,
		Event(d, 21, "customer_settings_update", "alice@example.com", "2025-06-10 08:58", "", "tokens_required set to false"),
		Event(d, 22, "customer_settings_update", "bob@example.com", "2025-06-20 09:59", "", "max_active_tokens set to 8"),
	)
	// A redelivered audit event (same id, newer collection): reports count it once.
	dup := f.Audit[0]
	dup.CollectedAt = dup.CollectedAt.Add(time.Hour)
	f.Audit = append(f.Audit, dup)

	// Tenant "other": must never show up in a report on "default".
	f.Add(NewToken("other", TokenID(99), "Other tenant token", "2025-06-01 09:00", nil).
		Event(99, "token_create", "mallory@example.com", "2025-06-01 09:00", "other tenant").
		Use("2025-06-02 09:00").Fixture())
	f.Settings = append(f.Settings, Settings("other", "2025-03-01 08:00", 1, false))
	return f
}
