package collector

import (
	"encoding/json"
	"fmt"
	"strconv"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/tokentrail/tokentrail/collector/checkpoint"
	"github.com/tokentrail/tokentrail/falcon"
	"github.com/tokentrail/tokentrail/schema"
)

// AuditRecord normalizes an audit event. Action is kept verbatim.
func AuditRecord(tenant string, collectedAt time.Time, e falcon.AuditEvent) *schema.AuditEvent {
	return &schema.AuditEvent{
		Envelope: schema.NewEnvelope(schema.TypeAuditEvent, tenant, collectedAt),
		ID:       e.ID, Action: e.Action, Actor: e.Actor, Description: e.Description,
		Timestamp: e.Timestamp.UTC(), TokenID: e.TokenID,
	}
}

// TokenState is what the collector keeps of a token: every field but the
// value, which becomes its HMAC-SHA256 fingerprint under key (empty when the
// API sent no value).
func TokenState(key []byte, t falcon.Token) checkpoint.Token {
	fp := ""
	if v := t.Value.Reveal(); v != "" {
		fp = schema.Fingerprint(key, v)
	}
	return checkpoint.Token{Label: t.Label, Type: t.Type, Status: t.Status, ValueFingerprint: fp,
		CreatedTimestamp: t.CreatedTimestamp.UTC(), ExpiresTimestamp: utcPtr(t.ExpiresTimestamp),
		LastUsedTimestamp: utcPtr(t.LastUsedTimestamp), RevokedTimestamp: utcPtr(t.RevokedTimestamp)}
}

// TokenRecord builds the token record of a state; deleted marks a token that
// disappeared (its fields as last seen).
func TokenRecord(tenant string, collectedAt time.Time, id string, s checkpoint.Token, deleted bool) *schema.Token {
	return &schema.Token{
		Envelope: schema.NewEnvelope(schema.TypeToken, tenant, collectedAt),
		ID:       id, Label: s.Label, TokenType: s.Type, Status: s.Status, ValueFingerprint: s.ValueFingerprint,
		CreatedTimestamp: s.CreatedTimestamp, ExpiresTimestamp: s.ExpiresTimestamp,
		LastUsedTimestamp: s.LastUsedTimestamp, RevokedTimestamp: s.RevokedTimestamp, Deleted: deleted,
	}
}

// SettingsState converts the API's settings.
func SettingsState(s falcon.CustomerSettings) checkpoint.Settings {
	out := checkpoint.Settings{TokensRequired: s.TokensRequired}
	if s.MaxActiveTokens != nil {
		v := *s.MaxActiveTokens
		out.MaxActiveTokens = &v
	}
	return out
}

// SettingsRecord builds the settings record.
func SettingsRecord(tenant string, collectedAt time.Time, s checkpoint.Settings) *schema.Settings {
	return &schema.Settings{Envelope: schema.NewEnvelope(schema.TypeSettings, tenant, collectedAt),
		MaxActiveTokens: s.MaxActiveTokens, TokensRequired: s.TokensRequired}
}

var versionHeader = []byte(strconv.Itoa(schema.Version))

// Message encodes r as a Kafka message for topic: key = r.Key(), JSON value,
// headers record_type and schema_version.
func Message(topic string, r schema.Record) (kafka.Message, error) {
	v, err := json.Marshal(r)
	if err != nil {
		return kafka.Message{}, fmt.Errorf("collector: encode %s %s: %w", r.Type(), r.Key(), err)
	}
	return kafka.Message{
		Topic: topic,
		Key:   []byte(r.Key()),
		Value: v,
		Headers: []kafka.Header{
			{Key: schema.HeaderRecordType, Value: []byte(r.Type())},
			{Key: schema.HeaderSchemaVersion, Value: versionHeader},
		},
	}, nil
}

func utcPtr(t *time.Time) *time.Time {
	if t == nil || t.IsZero() {
		return nil
	}
	u := t.UTC()
	return &u
}
