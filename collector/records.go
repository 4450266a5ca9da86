package collector

import (
	"fmt"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/tokentrail/tokentrail/collector/checkpoint"
	"github.com/tokentrail/tokentrail/falcon"
	"github.com/tokentrail/tokentrail/schema"
)

// AuditRecord normalizes an audit event of the tenant named tenant (whose
// Falcon CID is cid). Action is kept verbatim.
func AuditRecord(cid, tenant string, collectedAt time.Time, e falcon.AuditEvent) *schema.AuditEvent {
	r := &schema.AuditEvent{
		Envelope: schema.NewEnvelope(schema.TypeAuditEvent, cid, tenant, collectedAt),
		ID:       e.ID, Action: e.Action, Actor: e.Actor, Description: e.Description,
		Timestamp: e.Timestamp, TokenID: e.TokenID,
	}
	r.Complete()
	return r
}

// auditRef is an audit event a poll published: what can explain a token or
// settings change the same poll finds.
type auditRef struct {
	id string
	at time.Time
}

// explain sets a token or settings record's event time. The change happened
// after the previous snapshot started (after; zero: unknown). When ref, the
// newest audit event about the entity the poll published, happened after
// that snapshot ended (until), the previous snapshot cannot have shown its
// change: ref made the change this record reports, and its time is the
// event time. Otherwise (no event yet, or one the previous snapshot may
// already have shown) the event time stays the snapshot's collected_at, an
// upper bound.
func explain(env *schema.Envelope, ch *schema.Change, ref auditRef, after, until time.Time) {
	ch.ChangedAfter = schema.TruncatePtr(&after)
	if ref.id != "" && (until.IsZero() || ref.at.After(until)) {
		env.EventTime, env.EventTimeSource, ch.AuditEventID = schema.Truncate(ref.at), schema.EventTimeAudit, ref.id
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
	return checkpoint.Token{Label: t.Label, TokenType: t.Type, Status: t.Status, ValueFingerprint: fp,
		CreatedTimestamp: t.CreatedTimestamp.UTC(), ExpiresTimestamp: utcPtr(t.ExpiresTimestamp),
		LastUsedTimestamp: utcPtr(t.LastUsedTimestamp), RevokedTimestamp: utcPtr(t.RevokedTimestamp)}
}

// TokenRecord builds the token record of a state; deleted marks a token that
// disappeared (status deleted, other fields as last seen). Its event time is
// the snapshot's until explained.
func TokenRecord(cid, tenant string, collectedAt time.Time, id string, s checkpoint.Token, deleted bool) *schema.Token {
	r := &schema.Token{Envelope: schema.NewEnvelope(schema.TypeToken, cid, tenant, collectedAt), ID: id, TokenState: s, Deleted: deleted}
	r.Complete()
	return r
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

// SettingsRecord builds the settings record. Its event time is the
// snapshot's until explained.
func SettingsRecord(cid, tenant string, collectedAt time.Time, s checkpoint.Settings) *schema.Settings {
	env := schema.NewEnvelope(schema.TypeSettings, cid, tenant, collectedAt)
	return &schema.Settings{Envelope: env, ID: schema.SettingsID(cid, tenant, env.CollectedAt),
		MaxActiveTokens: s.MaxActiveTokens, TokensRequired: s.TokensRequired}
}

// Message encodes r as a Kafka message for topic: key r.Key(), value
// schema.Marshal(r), headers schema.Headers(r). Time stays zero: the writer
// stamps the publish time (the contract's message timestamp).
func Message(topic string, r schema.Record) (kafka.Message, error) {
	v, err := schema.Marshal(r)
	if err != nil {
		return kafka.Message{}, fmt.Errorf("collector: encode %s %s: %w", r.Type(), r.Key(), err)
	}
	hs := schema.Headers(r)
	headers := make([]kafka.Header, len(hs))
	for i, h := range hs {
		headers[i] = kafka.Header{Key: h.Key, Value: h.Value}
	}
	return kafka.Message{Topic: topic, Key: []byte(r.Key()), Value: v, Headers: headers}, nil
}

func utcPtr(t *time.Time) *time.Time {
	if t == nil || t.IsZero() {
		return nil
	}
	u := t.UTC()
	return &u
}
