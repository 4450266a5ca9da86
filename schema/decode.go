package schema

import (
	"encoding/json"
	"errors"
	"fmt"
	"time"
)

// Sentinel errors returned (wrapped in *DecodeError) by Decode.
var (
	ErrMalformed          = errors.New("malformed record")
	ErrUnknownRecordType  = errors.New("unknown record_type")
	ErrUnsupportedVersion = errors.New("unsupported schema_version")
	ErrInvalid            = errors.New("invalid record")
)

// DecodeError says why a record was rejected. It unwraps to one of the
// sentinel errors above.
type DecodeError struct {
	Field  string // the offending field, "" when the record is not JSON
	Reason string
	Err    error
}

func (e *DecodeError) Error() string {
	if e.Field == "" {
		return fmt.Sprintf("%v: %s", e.Err, e.Reason)
	}
	return fmt.Sprintf("%v: %s: %s", e.Err, e.Field, e.Reason)
}

func (e *DecodeError) Unwrap() error { return e.Err }

// wire is the union of every record type's fields, so that a record is
// parsed in one pass whatever its type.
type wire struct {
	RecordType    string    `json:"record_type"`
	SchemaVersion *int      `json:"schema_version"`
	Tenant        string    `json:"tenant"`
	CollectedAt   time.Time `json:"collected_at"`
	ID            string    `json:"id"`

	Action      string    `json:"action"`
	Actor       string    `json:"actor"`
	Description string    `json:"description"`
	Timestamp   time.Time `json:"timestamp"`
	TokenID     string    `json:"token_id"`

	Label             string     `json:"label"`
	TokenType         string     `json:"type"`
	Status            string     `json:"status"`
	ValueFingerprint  string     `json:"value_fingerprint"`
	CreatedTimestamp  time.Time  `json:"created_timestamp"`
	ExpiresTimestamp  *time.Time `json:"expires_timestamp"`
	LastUsedTimestamp *time.Time `json:"last_used_timestamp"`
	RevokedTimestamp  *time.Time `json:"revoked_timestamp"`
	Deleted           bool       `json:"deleted"`

	MaxActiveTokens *int64 `json:"max_active_tokens"`
	TokensRequired  bool   `json:"tokens_required"`
}

const maxIDLen = 64

// Decode parses and validates one record. It never panics; every rejection
// is a *DecodeError.
func Decode(data []byte) (Record, error) {
	var w wire
	if err := json.Unmarshal(data, &w); err != nil {
		return nil, &DecodeError{Reason: err.Error(), Err: ErrMalformed}
	}
	if w.SchemaVersion == nil {
		return nil, &DecodeError{Field: "schema_version", Reason: "missing", Err: ErrInvalid}
	}
	if v := *w.SchemaVersion; v < 1 || v > Version {
		return nil, &DecodeError{Field: "schema_version", Reason: fmt.Sprintf("%d (this build reads 1 to %d)", v, Version), Err: ErrUnsupportedVersion}
	}
	if w.Tenant == "" {
		return nil, invalid("tenant", "empty")
	}
	if w.CollectedAt.IsZero() {
		return nil, invalid("collected_at", "missing")
	}
	env := Envelope{RecordType: w.RecordType, SchemaVersion: *w.SchemaVersion, Tenant: w.Tenant, CollectedAt: w.CollectedAt.UTC()}
	switch w.RecordType {
	case TypeAuditEvent:
		if err := checkID("id", w.ID); err != nil {
			return nil, err
		}
		if w.Timestamp.IsZero() {
			return nil, invalid("timestamp", "missing")
		}
		return &AuditEvent{Envelope: env, ID: w.ID, Action: w.Action, Actor: w.Actor, Description: w.Description,
			Timestamp: w.Timestamp.UTC(), TokenID: w.TokenID}, nil
	case TypeToken:
		if err := checkID("id", w.ID); err != nil {
			return nil, err
		}
		if w.CreatedTimestamp.IsZero() && !w.Deleted {
			return nil, invalid("created_timestamp", "missing")
		}
		return &Token{Envelope: env, ID: w.ID, Label: w.Label, TokenType: w.TokenType, Status: w.Status,
			ValueFingerprint: w.ValueFingerprint, CreatedTimestamp: w.CreatedTimestamp.UTC(),
			ExpiresTimestamp: utc(w.ExpiresTimestamp), LastUsedTimestamp: utc(w.LastUsedTimestamp),
			RevokedTimestamp: utc(w.RevokedTimestamp), Deleted: w.Deleted}, nil
	case TypeSettings:
		if w.MaxActiveTokens != nil && *w.MaxActiveTokens < 0 {
			return nil, invalid("max_active_tokens", "negative")
		}
		return &Settings{Envelope: env, MaxActiveTokens: w.MaxActiveTokens, TokensRequired: w.TokensRequired}, nil
	case TypeCoverage:
		return decodeCoverage(data, env)
	case "":
		return nil, &DecodeError{Field: "record_type", Reason: "missing", Err: ErrUnknownRecordType}
	default:
		return nil, &DecodeError{Field: "record_type", Reason: fmt.Sprintf("%q", w.RecordType), Err: ErrUnknownRecordType}
	}
}

func invalid(field, reason string) error {
	return &DecodeError{Field: field, Reason: reason, Err: ErrInvalid}
}

func checkID(field, id string) error {
	if id == "" {
		return invalid(field, "empty")
	}
	if len(id) > maxIDLen {
		return invalid(field, fmt.Sprintf("longer than %d bytes", maxIDLen))
	}
	for i := 0; i < len(id); i++ {
		if c := id[i]; c <= ' ' || c > '~' {
			return invalid(field, "contains a non-printable or non-ASCII byte")
		}
	}
	return nil
}

func utc(t *time.Time) *time.Time {
	if t == nil || t.IsZero() {
		return nil
	}
	u := t.UTC()
	return &u
}
