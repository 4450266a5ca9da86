package schema

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"reflect"
	"strings"
	"time"
)

// Version is the schema_version this build writes and the newest it reads.
// Decode reads every version from 1 (README "Topic contract" says what each
// added or changed).
const Version = 2

// Record types, the value of the record_type field and header.
const (
	TypeAuditEvent = "audit_event"
	TypeToken      = "token"
	TypeSettings   = "settings"
)

// Values of event_time_source: where a record's event_time comes from.
const (
	// EventTimeAudit: the time of the audit event (audit_event_id) that
	// made the change, read in the same poll. For an audit_event record,
	// its own timestamp.
	EventTimeAudit = "audit_event"
	// EventTimeSnapshot: no audit event explains the change yet; event_time
	// is the snapshot that first showed it (collected_at), an upper bound.
	// The change happened after changed_after (when known) and at or
	// before event_time.
	EventTimeSnapshot = "snapshot"
)

// Values of actor_kind.
const (
	ActorUser      = "user"       // a console user, named by e-mail address
	ActorAPIClient = "api_client" // an API client, named by its client id
	ActorUnknown   = "unknown"    // the audit event names no actor
)

// ActorKind classifies an audit event's actor: Falcon names a console user
// by e-mail address and an API client by its client id (no '@').
func ActorKind(actor string) string {
	switch {
	case actor == "":
		return ActorUnknown
	case strings.Contains(actor, "@"):
		return ActorUser
	}
	return ActorAPIClient
}

// StatusDeleted is a token record's status once the token is gone.
const StatusDeleted = "deleted"

// Record is implemented by every record type.
type Record interface {
	// Type is the record_type.
	Type() string
	// Key is the Kafka message key: the record's id (the tenant for
	// settings, so that a tenant's settings stay in order in one
	// partition).
	Key() string
	// Header returns the common fields.
	Header() *Envelope
}

// Envelope holds the fields every record carries.
type Envelope struct {
	RecordType    string `json:"record_type"`
	SchemaVersion int    `json:"schema_version"`
	// CID is the Falcon customer ID the record came from: lowercase, without
	// a CCID's checksum suffix, as other Falcon data spells it ("" before
	// schema_version 2).
	CID         string    `json:"cid"`
	Tenant      string    `json:"tenant"` // the operator's name for the CID
	CollectedAt time.Time `json:"collected_at"`
	// EventTime is when the reported event or change happened, as
	// EventTimeSource says (zero before schema_version 2).
	EventTime       time.Time `json:"event_time"`
	EventTimeSource string    `json:"event_time_source"`
}

// Header implements Record.
func (e *Envelope) Header() *Envelope { return e }

// Change is how a token or settings record's change is explained.
type Change struct {
	// AuditEventID is the audit event whose time is event_time; "" (JSON
	// null) when event_time_source is snapshot.
	AuditEventID string `json:"audit_event_id"`
	// ChangedAfter is when the previous snapshot started, which still showed
	// the old state: the change happened after it. nil when unknown (the
	// first snapshot of a tenant, or a checkpoint from before schema 2).
	ChangedAfter *time.Time `json:"changed_after"`
}

// AuditEvent is one entry of the installation-token audit trail.
type AuditEvent struct {
	Envelope
	ID          string    `json:"id"`
	Action      string    `json:"action"` // kept verbatim, including values unknown today
	Actor       string    `json:"actor"`
	ActorKind   string    `json:"actor_kind"` // ActorKind(Actor); "" before schema_version 2
	Description string    `json:"description"`
	Timestamp   time.Time `json:"timestamp"`
	TokenID     string    `json:"token_id"` // "" (JSON null) for settings events
}

// Complete fills the fields derived from the others: the event time (the
// event's timestamp, at Precision) and the actor's kind.
func (a *AuditEvent) Complete() {
	a.Timestamp = Truncate(a.Timestamp)
	a.EventTime, a.EventTimeSource, a.ActorKind = a.Timestamp, EventTimeAudit, ActorKind(a.Actor)
}

// Type implements Record.
func (*AuditEvent) Type() string { return TypeAuditEvent }

// Key implements Record.
func (a *AuditEvent) Key() string { return a.ID }

// Token is the state of one installation token when it was collected. A
// record is published when a token appears, changes in any field, or
// disappears (Deleted true, Status StatusDeleted, other fields as last
// seen).
type Token struct {
	Envelope
	ID string `json:"id"`
	TokenState
	// LastStatus is Falcon's status as last seen: Status, except that a
	// deleted token's Status is StatusDeleted ("" before schema_version 2).
	// ClickHouse keeps it as the status column.
	LastStatus string `json:"last_status"`
	Deleted    bool   `json:"deleted"`
	Change
}

// Complete fills the fields derived from the others: LastStatus from
// Status, and Status StatusDeleted for a deleted token.
func (t *Token) Complete() {
	if t.LastStatus == "" {
		t.LastStatus = t.Status
	}
	if t.Deleted {
		t.Status = StatusDeleted
	}
}

// TokenState is what Falcon says of a token but its id and value (the value
// only as its fingerprint): the part of a token record that changes, and
// what the collector keeps of each token to diff snapshots
// (collector/checkpoint stores it as it is).
type TokenState struct {
	Label             string     `json:"label"`
	TokenType         string     `json:"type"`
	Status            string     `json:"status"`
	ValueFingerprint  string     `json:"value_fingerprint"`
	CreatedTimestamp  time.Time  `json:"created_timestamp"`
	ExpiresTimestamp  *time.Time `json:"expires_timestamp"`   // nil: never expires
	LastUsedTimestamp *time.Time `json:"last_used_timestamp"` // nil: never used
	RevokedTimestamp  *time.Time `json:"revoked_timestamp"`   // nil: not revoked
}

// Equal reports whether two states have the same fields, times compared as
// instants. It walks the struct, so a field added to TokenState counts
// without changing it.
func (s TokenState) Equal(o TokenState) bool {
	a, b := reflect.ValueOf(s), reflect.ValueOf(o)
	for i := 0; i < a.NumField(); i++ {
		x, y := a.Field(i).Interface(), b.Field(i).Interface()
		switch x := x.(type) {
		case time.Time:
			if !x.Equal(y.(time.Time)) {
				return false
			}
		case *time.Time:
			y := y.(*time.Time)
			if (x == nil) != (y == nil) || x != nil && !x.Equal(*y) {
				return false
			}
		default:
			if x != y {
				return false
			}
		}
	}
	return true
}

// Type implements Record.
func (*Token) Type() string { return TypeToken }

// Key implements Record.
func (t *Token) Key() string { return t.ID }

// Settings is the tenant's customer settings when they were collected.
type Settings struct {
	Envelope
	// ID identifies this settings record (SettingsID); "" before
	// schema_version 2.
	ID              string `json:"id"`
	MaxActiveTokens *int64 `json:"max_active_tokens"` // nil: no limit
	TokensRequired  bool   `json:"tokens_required"`
	Change
}

// Type implements Record.
func (*Settings) Type() string { return TypeSettings }

// Key implements Record.
func (s *Settings) Key() string { return s.Tenant }

// SettingsID is the id of the settings record of tenant (of cid) collected
// at collectedAt: 32 hex digits of SHA-256 over the three, so that a
// redelivered record keeps its id.
func SettingsID(cid, tenant string, collectedAt time.Time) string {
	h := sha256.Sum256([]byte(cid + "\x00" + tenant + "\x00" + FormatTime(collectedAt)))
	return hex.EncodeToString(h[:16])
}

var (
	auditDef = newDef(TypeAuditEvent, func(r *AuditEvent) *Envelope { return &r.Envelope }, checkAuditEvent,
		[]string{"audit_events"}, append(envelopeFields(func(r *AuditEvent) *Envelope { return &r.Envelope }),
			fld(func(r *AuditEvent) any { return &r.ID }, stored),
			fld(func(r *AuditEvent) any { return &r.Action }, stored|interned),
			fld(func(r *AuditEvent) any { return &r.Actor }, stored|interned),
			fld(func(r *AuditEvent) any { return &r.ActorKind }, stored|interned),
			fld(func(r *AuditEvent) any { return &r.Description }, stored),
			fld(func(r *AuditEvent) any { return &r.Timestamp }, stored),
			fld(func(r *AuditEvent) any { return &r.TokenID }, stored|nullEmpty),
		)...)
	tokenDef = newDef(TypeToken, func(r *Token) *Envelope { return &r.Envelope }, checkToken,
		[]string{"tokens", "token_changes"}, append(envelopeFields(func(r *Token) *Envelope { return &r.Envelope }),
			fld(func(r *Token) any { return &r.ID }, stored),
			fld(func(r *Token) any { return &r.Label }, stored),
			fld(func(r *Token) any { return &r.TokenType }, stored|interned),
			fld(func(r *Token) any { return &r.Status }, interned),
			fld(func(r *Token) any { return &r.ValueFingerprint }, stored),
			fld(func(r *Token) any { return &r.CreatedTimestamp }, stored),
			fld(func(r *Token) any { return &r.ExpiresTimestamp }, stored),
			fld(func(r *Token) any { return &r.LastUsedTimestamp }, stored),
			fld(func(r *Token) any { return &r.RevokedTimestamp }, stored),
			fld(func(r *Token) any { return &r.LastStatus }, stored|interned).as("status"),
			fld(func(r *Token) any { return &r.Deleted }, stored),
			fld(func(r *Token) any { return &r.AuditEventID }, stored|nullEmpty),
			fld(func(r *Token) any { return &r.ChangedAfter }, stored),
		)...)
	settingsDef = newDef(TypeSettings, func(r *Settings) *Envelope { return &r.Envelope }, checkSettings,
		[]string{"settings_changes"}, append(envelopeFields(func(r *Settings) *Envelope { return &r.Envelope }),
			fld(func(r *Settings) any { return &r.ID }, stored),
			fld(func(r *Settings) any { return &r.MaxActiveTokens }, stored),
			fld(func(r *Settings) any { return &r.TokensRequired }, stored),
			fld(func(r *Settings) any { return &r.AuditEventID }, stored|nullEmpty),
			fld(func(r *Settings) any { return &r.ChangedAfter }, stored),
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

// The check functions validate a decoded record of their type and fill in
// what a schema_version 1 record lacks.

func checkAuditEvent(r *AuditEvent) error {
	if err := CheckID("id", r.ID); err != nil {
		return err
	}
	if r.Timestamp.IsZero() {
		return invalid("timestamp", "missing")
	}
	if r.SchemaVersion < 2 {
		r.Complete()
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
	if r.SchemaVersion < 2 {
		r.Complete()
	} else if r.LastStatus == "" { // a producer that leaves it out: ClickHouse's status column needs it
		r.LastStatus = r.Status
	}
	return nil
}

func checkSettings(r *Settings) error {
	if r.SchemaVersion >= 2 {
		if err := CheckID("id", r.ID); err != nil {
			return err
		}
	} else {
		r.ID = SettingsID(r.CID, r.Tenant, r.CollectedAt)
	}
	if r.MaxActiveTokens != nil && *r.MaxActiveTokens < 0 {
		return invalid("max_active_tokens", "negative")
	}
	return nil
}

// NewEnvelope returns the common fields for a record of type typ, with
// every time at the contract's precision (Precision). The event time starts
// as collectedAt from a snapshot; set it when known better.
func NewEnvelope(typ, cid, tenant string, collectedAt time.Time) Envelope {
	at := Truncate(collectedAt)
	return Envelope{RecordType: typ, SchemaVersion: Version, CID: cid, Tenant: tenant, CollectedAt: at,
		EventTime: at, EventTimeSource: EventTimeSnapshot}
}

// Fingerprint returns the hex HMAC-SHA256 of a token value under key. It
// lets an analyst holding a leaked value (and the key) find the token without
// the pipeline ever storing the value.
func Fingerprint(key []byte, value string) string {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(value))
	return hex.EncodeToString(m.Sum(nil))
}
