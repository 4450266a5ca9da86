package schema

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"time"
)

// Version is the schema_version this build writes and the newest it reads.
const Version = 1

// Record types, the value of the record_type field and header.
const (
	TypeAuditEvent = "audit_event"
	TypeToken      = "token"
	TypeSettings   = "settings"
)

// Record is implemented by every record type.
type Record interface {
	// Type is the record_type.
	Type() string
	// Key is the Kafka message key: the record's id (the tenant for settings,
	// which have no id of their own).
	Key() string
	// Header returns the common fields.
	Header() *Envelope
}

// Envelope holds the fields every record carries.
type Envelope struct {
	RecordType    string    `json:"record_type"`
	SchemaVersion int       `json:"schema_version"`
	Tenant        string    `json:"tenant"`
	CollectedAt   time.Time `json:"collected_at"`
}

// Header implements Record.
func (e *Envelope) Header() *Envelope { return e }

// AuditEvent is one entry of the installation-token audit trail.
type AuditEvent struct {
	Envelope
	ID          string    `json:"id"`
	Action      string    `json:"action"` // kept verbatim, including values unknown today
	Actor       string    `json:"actor"`
	Description string    `json:"description"`
	Timestamp   time.Time `json:"timestamp"`
	TokenID     string    `json:"token_id"` // "" for settings events
}

// Type implements Record.
func (*AuditEvent) Type() string { return TypeAuditEvent }

// Key implements Record.
func (a *AuditEvent) Key() string { return a.ID }

// Token is the state of one installation token when it was collected. A
// record is published when a token appears, changes in any field, or
// disappears (Deleted true, other fields as last seen).
type Token struct {
	Envelope
	ID                string     `json:"id"`
	Label             string     `json:"label"`
	TokenType         string     `json:"type"`
	Status            string     `json:"status"`
	ValueFingerprint  string     `json:"value_fingerprint"`
	CreatedTimestamp  time.Time  `json:"created_timestamp"`
	ExpiresTimestamp  *time.Time `json:"expires_timestamp"`   // nil: never expires
	LastUsedTimestamp *time.Time `json:"last_used_timestamp"` // nil: never used
	RevokedTimestamp  *time.Time `json:"revoked_timestamp"`   // nil: not revoked
	Deleted           bool       `json:"deleted"`
}

// Type implements Record.
func (*Token) Type() string { return TypeToken }

// Key implements Record.
func (t *Token) Key() string { return t.ID }

// Settings is the tenant's customer settings when they were collected.
type Settings struct {
	Envelope
	MaxActiveTokens *int64 `json:"max_active_tokens"` // nil: no limit
	TokensRequired  bool   `json:"tokens_required"`
}

// Type implements Record.
func (*Settings) Type() string { return TypeSettings }

// Key implements Record.
func (s *Settings) Key() string { return s.Tenant }

var (
	auditDef = newDef(TypeAuditEvent, func(r *AuditEvent) *Envelope { return &r.Envelope }, checkAuditEvent,
		[]string{"audit_events"}, append(envelopeFields(func(r *AuditEvent) *Envelope { return &r.Envelope }),
			fld(func(r *AuditEvent) any { return &r.ID }, stored),
			fld(func(r *AuditEvent) any { return &r.Action }, stored|interned),
			fld(func(r *AuditEvent) any { return &r.Actor }, stored|interned),
			fld(func(r *AuditEvent) any { return &r.Description }, stored),
			fld(func(r *AuditEvent) any { return &r.Timestamp }, stored),
			fld(func(r *AuditEvent) any { return &r.TokenID }, stored),
		)...)
	tokenDef = newDef(TypeToken, func(r *Token) *Envelope { return &r.Envelope }, checkToken,
		[]string{"tokens", "token_changes"}, append(envelopeFields(func(r *Token) *Envelope { return &r.Envelope }),
			fld(func(r *Token) any { return &r.ID }, stored),
			fld(func(r *Token) any { return &r.Label }, stored),
			fld(func(r *Token) any { return &r.TokenType }, stored|interned),
			fld(func(r *Token) any { return &r.Status }, stored|interned),
			fld(func(r *Token) any { return &r.ValueFingerprint }, stored),
			fld(func(r *Token) any { return &r.CreatedTimestamp }, stored),
			fld(func(r *Token) any { return &r.ExpiresTimestamp }, stored),
			fld(func(r *Token) any { return &r.LastUsedTimestamp }, stored),
			fld(func(r *Token) any { return &r.RevokedTimestamp }, stored),
			fld(func(r *Token) any { return &r.Deleted }, stored),
		)...)
	settingsDef = newDef(TypeSettings, func(r *Settings) *Envelope { return &r.Envelope }, checkSettings,
		[]string{"settings_changes"}, append(envelopeFields(func(r *Settings) *Envelope { return &r.Envelope }),
			fld(func(r *Settings) any { return &r.MaxActiveTokens }, stored),
			fld(func(r *Settings) any { return &r.TokensRequired }, stored),
		)...)

	// registry lists every record type's definition, in the order of Tables.
	// A new record type is a Go type, its def and an entry here (plus its
	// JSON Schema file and a migration).
	registry = []recordDef{auditDef, tokenDef, settingsDef, coverageDef}
	defs     = func() map[string]recordDef {
		m := map[string]recordDef{}
		for _, d := range registry {
			m[d.recordType()] = d
		}
		return m
	}()
)

// RecordTypes lists every record_type, in the order of Tables.
func RecordTypes() []string {
	out := make([]string, len(registry))
	for i, d := range registry {
		out[i] = d.recordType()
	}
	return out
}

// New returns a new, empty record of type typ, or nil for an unknown type.
func New(typ string) Record {
	if d, ok := defs[typ]; ok {
		return d.newRecord()
	}
	return nil
}

func checkAuditEvent(r *AuditEvent) error {
	if err := CheckID("id", r.ID); err != nil {
		return err
	}
	if r.Timestamp.IsZero() {
		return invalid("timestamp", "missing")
	}
	return nil
}

func checkToken(r *Token) error {
	if err := CheckID("id", r.ID); err != nil {
		return err
	}
	if r.CreatedTimestamp.IsZero() && !r.Deleted {
		return invalid("created_timestamp", "missing")
	}
	return nil
}

func checkSettings(r *Settings) error {
	if r.MaxActiveTokens != nil && *r.MaxActiveTokens < 0 {
		return invalid("max_active_tokens", "negative")
	}
	return nil
}

// NewEnvelope returns the common fields for a record of type typ.
func NewEnvelope(typ, tenant string, collectedAt time.Time) Envelope {
	return Envelope{RecordType: typ, SchemaVersion: Version, Tenant: tenant, CollectedAt: collectedAt.UTC()}
}

// Fingerprint returns the hex HMAC-SHA256 of a token value under key. It
// lets an analyst holding a leaked value (and the key) find the token without
// the pipeline ever storing the value.
func Fingerprint(key []byte, value string) string {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(value))
	return hex.EncodeToString(m.Sum(nil))
}
