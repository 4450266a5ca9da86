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
