package sink

import (
	"time"
	"unicode/utf8"

	"github.com/tokentrail/tokentrail/schema"
)

// decoder turns message values into records. schema.Decode is the
// authority; it costs about 3.5µs a record (encoding/json), more than
// reading the record from Kafka. So the decoder first tries a scanner for
// the shape the collector writes: one flat object, keys spelled exactly as
// in the contract, strings without escapes, integers without fraction or
// exponent. It accepts a record only when schema.Decode would return the
// same record (FuzzFastDecode checks this), and hands anything else,
// including every invalid record, to schema.Decode for the verdict.
type decoder struct {
	// intern shares the strings of low-cardinality fields (tenant, action,
	// actor, type, status) between records.
	intern map[string]string
}

const maxInterned = 4096

func newDecoder() *decoder { return &decoder{intern: make(map[string]string)} }

func (d *decoder) decode(data []byte) (schema.Record, error) {
	if r, ok := d.fast(data); ok {
		return r, nil
	}
	return schema.Decode(data)
}

// fields mirrors schema's wire struct: the union of every type's fields.
type fields struct {
	recordType, tenant, id, action, actor, description, tokenID []byte
	label, tokenType, status, fingerprint                       []byte
	schemaVersion                                               int64
	hasVersion                                                  bool
	collectedAt, timestamp, created                             time.Time
	expires, lastUsed, revoked                                  optTime
	deleted, tokensRequired                                     bool
	maxActive                                                   int64
	hasMaxActive                                                bool
}

type optTime struct {
	set bool
	t   time.Time
}

// fast parses data; ok is false when schema.Decode must decide.
func (d *decoder) fast(data []byte) (schema.Record, bool) {
	var f fields
	if !f.parse(data) {
		return nil, false
	}
	// The checks below are schema.Decode's, in its order.
	if !f.hasVersion || f.schemaVersion < 1 || f.schemaVersion > schema.Version {
		return nil, false
	}
	if len(f.tenant) == 0 || f.collectedAt.IsZero() {
		return nil, false
	}
	env := schema.Envelope{SchemaVersion: int(f.schemaVersion), Tenant: d.str(f.tenant), CollectedAt: f.collectedAt.UTC()}
	switch string(f.recordType) {
	case schema.TypeAuditEvent:
		if !validID(f.id) || f.timestamp.IsZero() {
			return nil, false
		}
		env.RecordType = schema.TypeAuditEvent
		return &schema.AuditEvent{Envelope: env, ID: string(f.id), Action: d.str(f.action), Actor: d.str(f.actor),
			Description: string(f.description), Timestamp: f.timestamp.UTC(), TokenID: string(f.tokenID)}, true
	case schema.TypeToken:
		if !validID(f.id) || f.created.IsZero() && !f.deleted {
			return nil, false
		}
		env.RecordType = schema.TypeToken
		return &schema.Token{Envelope: env, ID: string(f.id), Label: string(f.label), TokenType: d.str(f.tokenType),
			Status: d.str(f.status), ValueFingerprint: string(f.fingerprint), CreatedTimestamp: f.created.UTC(),
			ExpiresTimestamp: f.expires.utc(), LastUsedTimestamp: f.lastUsed.utc(), RevokedTimestamp: f.revoked.utc(),
			Deleted: f.deleted}, true
	case schema.TypeSettings:
		if f.hasMaxActive && f.maxActive < 0 {
			return nil, false
		}
		env.RecordType = schema.TypeSettings
		s := &schema.Settings{Envelope: env, TokensRequired: f.tokensRequired}
		if f.hasMaxActive {
			v := f.maxActive
			s.MaxActiveTokens = &v
		}
		return s, true
	}
	return nil, false
}

func (o optTime) utc() *time.Time {
	if !o.set || o.t.IsZero() {
		return nil
	}
	u := o.t.UTC()
	return &u
}

// validID is schema's id check: 1 to 64 printable ASCII bytes, no space.
func validID(id []byte) bool {
	if len(id) == 0 || len(id) > 64 {
		return false
	}
	for _, c := range id {
		if c <= ' ' || c > '~' {
			return false
		}
	}
	return true
}

func (d *decoder) str(b []byte) string {
	if s, ok := d.intern[string(b)]; ok {
		return s
	}
	s := string(b)
	if len(d.intern) >= maxInterned {
		clear(d.intern)
	}
	d.intern[s] = s
	return s
}

// parse scans one JSON object. It follows encoding/json's rules for the
// inputs it accepts: the last of duplicate keys wins, null leaves a value
// unchanged except a pointer, which it clears.
func (f *fields) parse(data []byte) bool {
	i := skipSpace(data, 0)
	if i >= len(data) || data[i] != '{' {
		return false
	}
	i = skipSpace(data, i+1)
	if i < len(data) && data[i] == '}' {
		i++
	} else {
		for {
			key, next, ok := scanString(data, i)
			if !ok {
				return false
			}
			i = skipSpace(data, next)
			if i >= len(data) || data[i] != ':' {
				return false
			}
			i = skipSpace(data, i+1)
			if i, ok = f.value(key, data, i); !ok {
				return false
			}
			i = skipSpace(data, i)
			if i >= len(data) {
				return false
			}
			if data[i] == '}' {
				i++
				break
			}
			if data[i] != ',' {
				return false
			}
			i = skipSpace(data, i+1)
		}
	}
	return skipSpace(data, i) == len(data)
}

// value parses the value of key at data[i] and returns the offset after it.
func (f *fields) value(key, data []byte, i int) (int, bool) {
	switch string(key) {
	case "record_type":
		return str(data, i, &f.recordType)
	case "schema_version":
		return integer(data, i, &f.schemaVersion, &f.hasVersion)
	case "tenant":
		return str(data, i, &f.tenant)
	case "collected_at":
		return timestamp(data, i, &f.collectedAt)
	case "id":
		return str(data, i, &f.id)
	case "action":
		return str(data, i, &f.action)
	case "actor":
		return str(data, i, &f.actor)
	case "description":
		return str(data, i, &f.description)
	case "timestamp":
		return timestamp(data, i, &f.timestamp)
	case "token_id":
		return str(data, i, &f.tokenID)
	case "label":
		return str(data, i, &f.label)
	case "type":
		return str(data, i, &f.tokenType)
	case "status":
		return str(data, i, &f.status)
	case "value_fingerprint":
		return str(data, i, &f.fingerprint)
	case "created_timestamp":
		return timestamp(data, i, &f.created)
	case "expires_timestamp":
		return optTimestamp(data, i, &f.expires)
	case "last_used_timestamp":
		return optTimestamp(data, i, &f.lastUsed)
	case "revoked_timestamp":
		return optTimestamp(data, i, &f.revoked)
	case "deleted":
		return boolean(data, i, &f.deleted)
	case "max_active_tokens":
		return integer(data, i, &f.maxActive, &f.hasMaxActive)
	case "tokens_required":
		return boolean(data, i, &f.tokensRequired)
	}
	// An unknown key, or a known one in another case, which encoding/json
	// would match case-insensitively.
	return i, false
}

func skipSpace(data []byte, i int) int {
	for i < len(data) {
		switch data[i] {
		case ' ', '\t', '\n', '\r':
			i++
		default:
			return i
		}
	}
	return i
}

func isNull(data []byte, i int) bool {
	return len(data)-i >= 4 && string(data[i:i+4]) == "null"
}

// scanString returns the contents of the string at data[i], refusing
// escapes, control characters and invalid UTF-8.
func scanString(data []byte, i int) ([]byte, int, bool) {
	if i >= len(data) || data[i] != '"' {
		return nil, i, false
	}
	ascii := true
	for j := i + 1; j < len(data); j++ {
		c := data[j]
		switch {
		case c == '"':
			s := data[i+1 : j]
			if !ascii && !utf8.Valid(s) {
				return nil, i, false
			}
			return s, j + 1, true
		case c == '\\' || c < 0x20:
			return nil, i, false
		case c >= 0x80:
			ascii = false
		}
	}
	return nil, i, false
}

func str(data []byte, i int, dst *[]byte) (int, bool) {
	if isNull(data, i) {
		return i + 4, true
	}
	s, next, ok := scanString(data, i)
	if ok {
		*dst = s
	}
	return next, ok
}

func timestamp(data []byte, i int, dst *time.Time) (int, bool) {
	if isNull(data, i) {
		return i + 4, true
	}
	_, next, ok := scanString(data, i)
	if !ok {
		return i, false
	}
	// The quoted literal, as encoding/json hands it to UnmarshalJSON.
	if err := dst.UnmarshalJSON(data[i:next]); err != nil {
		return i, false
	}
	return next, true
}

func optTimestamp(data []byte, i int, dst *optTime) (int, bool) {
	if isNull(data, i) {
		*dst = optTime{}
		return i + 4, true
	}
	next, ok := timestamp(data, i, &dst.t)
	dst.set = ok
	return next, ok
}

func boolean(data []byte, i int, dst *bool) (int, bool) {
	switch {
	case isNull(data, i):
		return i + 4, true
	case len(data)-i >= 4 && string(data[i:i+4]) == "true":
		*dst = true
		return i + 4, true
	case len(data)-i >= 5 && string(data[i:i+5]) == "false":
		*dst = false
		return i + 5, true
	}
	return i, false
}

// integer parses an integer of at most 18 digits (no overflow possible);
// anything longer or with a fraction or exponent goes to schema.Decode.
func integer(data []byte, i int, dst *int64, set *bool) (int, bool) {
	if isNull(data, i) {
		*set = false
		return i + 4, true
	}
	j, neg := i, false
	if j < len(data) && data[j] == '-' {
		neg = true
		j++
	}
	start := j
	var n int64
	for j < len(data) && data[j] >= '0' && data[j] <= '9' {
		n = n*10 + int64(data[j]-'0')
		j++
	}
	digits := j - start
	if digits == 0 || digits > 18 || digits > 1 && data[start] == '0' {
		return i, false
	}
	if j < len(data) && (data[j] == '.' || data[j] == 'e' || data[j] == 'E') {
		return i, false
	}
	if neg {
		n = -n
	}
	*dst, *set = n, true
	return j, true
}
