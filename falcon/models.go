package falcon

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"time"
)

// DefaultTokenType is the token type the client creates (as Terraform does).
const DefaultTokenType = "customer_managed"

// meta is the envelope's meta object.
type meta struct {
	QueryTime  float64     `json:"query_time"`
	TraceID    string      `json:"trace_id"`
	PoweredBy  string      `json:"powered_by,omitempty"`
	Pagination *pagination `json:"pagination,omitempty"`
}

// pagination is meta.pagination of query operations.
type pagination struct {
	Offset int32 `json:"offset"`
	Limit  int32 `json:"limit"`
	Total  int64 `json:"total"`
}

// envelope is the body of every response. errors and resources may be
// absent or null; unknown fields are ignored.
type envelope struct {
	Meta      meta            `json:"meta"`
	Resources json.RawMessage `json:"resources"`
	Errors    []ErrorEntry    `json:"errors"`
}

// items splits resources into its elements; absent and null give none.
func (e *envelope) items() ([]json.RawMessage, error) {
	r := bytes.TrimSpace(e.Resources)
	if len(r) == 0 || string(r) == "null" {
		return nil, nil
	}
	var out []json.RawMessage
	if err := json.Unmarshal(r, &out); err != nil {
		return nil, fmt.Errorf("resources: %w", err)
	}
	return out, nil
}

// strings decodes resources as ID strings, skipping non-string elements.
func (e *envelope) strings() ([]string, error) {
	items, err := e.items()
	if err != nil {
		return nil, err
	}
	out := make([]string, 0, len(items))
	for _, it := range items {
		if s, ok := asString(it); ok {
			out = append(out, s)
		}
	}
	return out, nil
}

// asString reports whether raw is a JSON string and returns it.
func asString(raw json.RawMessage) (string, bool) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || raw[0] != '"' {
		return "", false
	}
	var s string
	if err := json.Unmarshal(raw, &s); err != nil {
		return "", false
	}
	return s, true
}

const redacted = "[REDACTED]"

// Secret holds a credential (the installation token value). Every way of
// printing or encoding it (fmt verbs, slog, encoding/json, encoding.Text)
// yields "[REDACTED]"; Reveal returns the raw value, e.g. for a keyed
// fingerprint. Decoding from JSON works normally.
type Secret string

// Reveal returns the raw secret. Never log or export the result.
func (s Secret) Reveal() string { return string(s) }

// String implements fmt.Stringer.
func (s Secret) String() string { return redacted }

// GoString implements fmt.GoStringer.
func (s Secret) GoString() string { return redacted }

// Format implements fmt.Formatter for every verb (%s, %v, %q, %x, ...).
func (s Secret) Format(f fmt.State, _ rune) { _, _ = io.WriteString(f, redacted) }

// LogValue implements slog.LogValuer.
func (s Secret) LogValue() slog.Value { return slog.StringValue(redacted) }

// MarshalJSON implements json.Marshaler.
func (s Secret) MarshalJSON() ([]byte, error) { return []byte(`"` + redacted + `"`), nil }

// MarshalText implements encoding.TextMarshaler.
func (s Secret) MarshalText() ([]byte, error) { return []byte(redacted), nil }

// Token is an installation token. Unset timestamps (null, absent, "" or the
// zero time 0001-01-01T00:00:00Z with any fraction) are nil; CreatedTimestamp
// is the zero time.Time when unset. Type and Status are kept verbatim; judge
// expiry from ExpiresTimestamp, not Status.
type Token struct {
	ID                string     `json:"id"`
	Label             string     `json:"label"`
	Value             Secret     `json:"value"`
	Type              string     `json:"type"`
	Status            string     `json:"status"`
	CreatedTimestamp  time.Time  `json:"created_timestamp"`
	ExpiresTimestamp  *time.Time `json:"expires_timestamp"`
	LastUsedTimestamp *time.Time `json:"last_used_timestamp"`
	RevokedTimestamp  *time.Time `json:"revoked_timestamp"`
}

// UnmarshalJSON decodes the wire form tolerantly (see Token).
func (t *Token) UnmarshalJSON(b []byte) error {
	var w tokenWire
	if err := json.Unmarshal(b, &w); err != nil {
		return fmt.Errorf("token: %w", err)
	}
	*t = w.token()
	return nil
}

// tokenWire is the JSON form of Token; decoding into it directly (rather
// than through Token.UnmarshalJSON) saves a validation pass per element.
type tokenWire struct {
	ID       string   `json:"id"`
	Label    string   `json:"label"`
	Value    Secret   `json:"value"`
	Type     string   `json:"type"`
	Status   string   `json:"status"`
	Created  wireTime `json:"created_timestamp"`
	Expires  wireTime `json:"expires_timestamp"`
	LastUsed wireTime `json:"last_used_timestamp"`
	Revoked  wireTime `json:"revoked_timestamp"`
}

func (w *tokenWire) token() Token {
	t := Token{
		ID: w.ID, Label: w.Label, Value: w.Value, Type: w.Type, Status: w.Status,
		ExpiresTimestamp: w.Expires.t, LastUsedTimestamp: w.LastUsed.t, RevokedTimestamp: w.Revoked.t,
	}
	if w.Created.t != nil {
		t.CreatedTimestamp = *w.Created.t
	}
	return t
}

// LogValue logs a token without its value.
func (t Token) LogValue() slog.Value {
	return slog.GroupValue(
		slog.String("id", t.ID),
		slog.String("label", t.Label),
		slog.String("type", t.Type),
		slog.String("status", t.Status),
	)
}

// AuditEvent is one audit event. TokenID is "" for settings events; Action
// is kept verbatim. An unset Timestamp is the zero time.Time.
type AuditEvent struct {
	ID          string    `json:"id"`
	Action      string    `json:"action"`
	Actor       string    `json:"actor"`
	Description string    `json:"description"`
	Timestamp   time.Time `json:"timestamp"`
	TokenID     string    `json:"token_id"`
}

// UnmarshalJSON decodes the wire form tolerantly.
func (e *AuditEvent) UnmarshalJSON(b []byte) error {
	var w auditWire
	if err := json.Unmarshal(b, &w); err != nil {
		return fmt.Errorf("audit event: %w", err)
	}
	*e = w.event()
	return nil
}

type auditWire struct {
	ID          string   `json:"id"`
	Action      string   `json:"action"`
	Actor       string   `json:"actor"`
	Description string   `json:"description"`
	Timestamp   wireTime `json:"timestamp"`
	TokenID     string   `json:"token_id"`
}

func (w *auditWire) event() AuditEvent {
	e := AuditEvent{ID: w.ID, Action: w.Action, Actor: w.Actor, Description: w.Description, TokenID: w.TokenID}
	if w.Timestamp.t != nil {
		e.Timestamp = *w.Timestamp.t
	}
	return e
}

// CustomerSettings are the tenant's token settings. A nil MaxActiveTokens
// means no limit.
type CustomerSettings struct {
	MaxActiveTokens *int64 `json:"max_active_tokens,omitempty"`
	TokensRequired  bool   `json:"tokens_required"`
}

// wireTime decodes an optional RFC 3339 timestamp; null, "", and year-1
// values ("0001-01-01T00:00:00.000Z", the way gofalcon writes "unset") give
// nil. Parsed times are UTC.
type wireTime struct{ t *time.Time }

func (w *wireTime) UnmarshalJSON(b []byte) error {
	w.t = nil
	if string(bytes.TrimSpace(b)) == "null" {
		return nil
	}
	var s string
	if n := len(b); n >= 2 && b[0] == '"' && b[n-1] == '"' && bytes.IndexByte(b, '\\') < 0 {
		s = string(b[1 : n-1]) // plain string: no unquoting needed
	} else if err := json.Unmarshal(b, &s); err != nil {
		return fmt.Errorf("timestamp %s: %w", b, err)
	}
	if s == "" {
		return nil
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return fmt.Errorf("timestamp %q: %w", s, err)
	}
	if t.Year() <= 1 {
		return nil
	}
	t = t.UTC()
	w.t = &t
	return nil
}

// formatTime renders t for request bodies; the zero time becomes JSON null
// because the client never sends 0001-01-01.
func formatTime(t time.Time) json.RawMessage {
	if t.IsZero() {
		return json.RawMessage("null")
	}
	b, _ := json.Marshal(t.UTC().Format(time.RFC3339Nano))
	return b
}

// TokenCreate is the tokens_create body. Every field is always sent: a nil
// ExpiresTimestamp (or a zero time) is sent as null, meaning "never expires";
// an empty Type is sent as DefaultTokenType.
type TokenCreate struct {
	Label            string
	ExpiresTimestamp *time.Time
	Type             string
}

// MarshalJSON renders the wire body.
func (c TokenCreate) MarshalJSON() ([]byte, error) {
	typ := c.Type
	if typ == "" {
		typ = DefaultTokenType
	}
	exp := json.RawMessage("null")
	if c.ExpiresTimestamp != nil {
		exp = formatTime(*c.ExpiresTimestamp)
	}
	return json.Marshal(struct {
		Label   string          `json:"label"`
		Expires json.RawMessage `json:"expires_timestamp"`
		Type    string          `json:"type"`
	}{c.Label, exp, typ})
}

// OptionalTime is a tri-state timestamp for patches: the zero value leaves
// the field alone, SetTime(t) sets it, ClearTime() sends null.
type OptionalTime struct {
	set bool
	t   time.Time
}

// SetTime sets the field to t. A zero t is the same as ClearTime (the client
// never sends 0001-01-01).
func SetTime(t time.Time) OptionalTime { return OptionalTime{set: true, t: t} }

// ClearTime sends null (for expires_timestamp: never expires).
func ClearTime() OptionalTime { return OptionalTime{set: true} }

// Get returns the time to set (nil = clear) and whether the field is sent.
func (o OptionalTime) Get() (t *time.Time, sent bool) {
	if !o.set {
		return nil, false
	}
	if o.t.IsZero() {
		return nil, true
	}
	v := o.t
	return &v, true
}

// TokenPatch is the tokens_update body; nil/zero fields are left alone.
// Revoked false restores a revoked token and is sent as false.
type TokenPatch struct {
	Label   *string
	Expires OptionalTime
	Revoked *bool
}

func (p TokenPatch) empty() bool { return p.Label == nil && !p.Expires.set && p.Revoked == nil }

// MarshalJSON renders only the fields that are set.
func (p TokenPatch) MarshalJSON() ([]byte, error) {
	var exp json.RawMessage
	if p.Expires.set {
		exp = formatTime(p.Expires.t)
	}
	return json.Marshal(struct {
		Label   *string         `json:"label,omitempty"`
		Expires json.RawMessage `json:"expires_timestamp,omitempty"`
		Revoked *bool           `json:"revoked,omitempty"`
	}{p.Label, exp, p.Revoked})
}

// SettingsPatch is the customer_settings_update body; nil fields are left
// alone, TokensRequired false is sent as false.
type SettingsPatch struct {
	TokensRequired  *bool  `json:"tokens_required,omitempty"`
	MaxActiveTokens *int64 `json:"max_active_tokens,omitempty"`
}

func (p SettingsPatch) empty() bool { return p.TokensRequired == nil && p.MaxActiveTokens == nil }

// Ptr returns a pointer to v, for patch fields.
func Ptr[T any](v T) *T { return &v }

// Missing returns the requested IDs that found does not contain, in request
// order: reads leave out IDs the API did not return (deleted, or never
// existed) instead of failing.
func Missing[T Token | AuditEvent](requested []string, found []T) []string {
	have := make(map[string]struct{}, len(found))
	for _, f := range found {
		switch v := any(f).(type) {
		case Token:
			have[v.ID] = struct{}{}
		case AuditEvent:
			have[v.ID] = struct{}{}
		}
	}
	var out []string
	for _, id := range requested {
		if _, ok := have[id]; !ok {
			out = append(out, id)
			have[id] = struct{}{}
		}
	}
	return out
}
