package checkpoint

import (
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"sort"
	"time"

	"github.com/tokentrail/tokentrail/schema"
)

// FormatVersion is the checkpoint format this build writes and reads.
const FormatVersion = 1

// Sentinel errors.
var (
	// ErrCorrupt: a checkpoint exists but cannot be read or decoded, or
	// holds impossible values. The collector refuses to start rather than
	// silently starting over from --start-time.
	ErrCorrupt = errors.New("checkpoint corrupt or unreadable")
	// ErrInvalidTenant: a tenant name that cannot name a checkpoint.
	ErrInvalidTenant = errors.New("invalid tenant name")
)

// CorruptError says which checkpoint is corrupt and why. It unwraps to
// ErrCorrupt.
type CorruptError struct {
	Where  string // file path or topic/key
	Reason string
	Err    error // underlying error, may be nil
}

func (e *CorruptError) Error() string {
	if e.Err != nil {
		return fmt.Sprintf("checkpoint %s is corrupt or unreadable: %s: %v", e.Where, e.Reason, e.Err)
	}
	return fmt.Sprintf("checkpoint %s is corrupt or unreadable: %s", e.Where, e.Reason)
}

// Unwrap returns ErrCorrupt and the cause.
func (e *CorruptError) Unwrap() []error {
	if e.Err != nil {
		return []error{ErrCorrupt, e.Err}
	}
	return []error{ErrCorrupt}
}

var tenantRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$`)

// ValidTenant reports whether name can name a tenant: 1-128 characters of
// letters, digits, '.', '_' and '-', not starting with a punctuation mark
// (it becomes a file name and a Kafka key).
func ValidTenant(name string) error {
	if !tenantRE.MatchString(name) {
		return fmt.Errorf("%w %q: want 1-128 of [A-Za-z0-9._-], starting with a letter or digit", ErrInvalidTenant, name)
	}
	return nil
}

// State is one tenant's progress. It never holds a token value or a
// credential: tokens are kept as their last published fields, with the
// value only as its keyed fingerprint.
type State struct {
	Tenant  string    `json:"tenant"`
	SavedAt time.Time `json:"saved_at"`

	Audit    Audit            `json:"audit"`
	Tokens   map[string]Token `json:"tokens"`   // token id -> last published state
	Settings *Settings        `json:"settings"` // nil: never published

	// TokensSeenAt and SettingsSeenAt are when the last snapshot that
	// matched the published state started (zero: unknown): a change the
	// next snapshot finds happened after it (the records' changed_after).
	// TokensSeenUntil is when that snapshot ended: an audit event after it
	// made a change that snapshot cannot have shown.
	TokensSeenAt    time.Time `json:"tokens_seen_at"`
	TokensSeenUntil time.Time `json:"tokens_seen_until"`
	SettingsSeenAt  time.Time `json:"settings_seen_at"`
}

// Audit is the audit-event cursor: the largest exported timestamp and the
// IDs exported recently.
type Audit struct {
	// Start is the lower bound chosen by the first run (--start-time); the
	// zero time means "everything the API has".
	Start time.Time `json:"start"`
	// Cursor is the largest exported timestamp (T). Zero before the first
	// event.
	Cursor time.Time `json:"cursor"`
	// Recent holds every exported ID whose timestamp lies in
	// [Cursor-lookback, Cursor], keyed by ID with its timestamp. Its entries
	// at exactly Cursor are the boundary set that makes the inclusive
	// lower bound (timestamp >= T) neither lose nor repeat ties; the older
	// ones let a lookback re-scan skip what it already exported.
	Recent map[string]time.Time `json:"-"`
	// Covered is the end of the audit window of the last poll that
	// published its coverage record: the next poll's window starts there.
	// Zero before the first such poll (checkpoints older than coverage
	// records lack it).
	Covered time.Time `json:"-"`
}

// Token is the last published state of a token: schema's definition, kept
// as it is (its JSON names are the record's).
type Token = schema.TokenState

// Settings is the last published customer settings.
type Settings struct {
	MaxActiveTokens *int64 `json:"max_active_tokens"`
	TokensRequired  bool   `json:"tokens_required"`
}

// Equal reports whether two settings are the same.
func (s Settings) Equal(o Settings) bool {
	if (s.MaxActiveTokens == nil) != (o.MaxActiveTokens == nil) {
		return false
	}
	if s.MaxActiveTokens != nil && *s.MaxActiveTokens != *o.MaxActiveTokens {
		return false
	}
	return s.TokensRequired == o.TokensRequired
}

// New returns the state of a tenant never collected before, starting at
// start (zero: everything).
func New(tenant string, start time.Time) *State {
	return &State{Tenant: tenant, Audit: Audit{Start: start.UTC(), Cursor: start.UTC(), Recent: map[string]time.Time{}},
		Tokens: map[string]Token{}}
}

// Clone returns a deep copy.
func (s *State) Clone() *State {
	c := *s
	c.Audit.Recent = make(map[string]time.Time, len(s.Audit.Recent))
	for k, v := range s.Audit.Recent {
		c.Audit.Recent[k] = v
	}
	c.Tokens = make(map[string]Token, len(s.Tokens))
	for k, v := range s.Tokens {
		c.Tokens[k] = v
	}
	if s.Settings != nil {
		st := *s.Settings
		c.Settings = &st
	}
	return &c
}

// SeenAtCursor returns the IDs exported at exactly Cursor, sorted.
func (a *Audit) SeenAtCursor() []string {
	var out []string
	for id, ts := range a.Recent {
		if ts.Equal(a.Cursor) {
			out = append(out, id)
		}
	}
	sort.Strings(out)
	return out
}

// Prune drops Recent entries older than Cursor-lookback, rounded down to
// the second: queries filter with whole seconds (falcon.FQLTime), so a
// re-read from Cursor-lookback returns that whole second, whose IDs must
// still be known.
func (a *Audit) Prune(lookback time.Duration) {
	limit := a.Cursor.Add(-lookback).Truncate(time.Second)
	for id, ts := range a.Recent {
		if ts.Before(limit) {
			delete(a.Recent, id)
		}
	}
}

// group is the on-disk form of Recent: IDs grouped by timestamp, so that a
// burst of ties costs one timestamp.
type group struct {
	T   time.Time `json:"t"`
	IDs []string  `json:"ids"`
}

type wireState struct {
	Version int `json:"version"`
	State
	Audit wireAudit `json:"audit"`
}

type wireAudit struct {
	Start   time.Time  `json:"start"`
	Cursor  time.Time  `json:"cursor"`
	Covered *time.Time `json:"covered,omitempty"`
	// SeenAtCursor duplicates the newest group for readers of the file.
	SeenAtCursor []string `json:"seen_at_cursor"`
	Recent       []group  `json:"recent"`
}

// Marshal encodes s. The encoding is deterministic.
func (s *State) Marshal() ([]byte, error) {
	byTime := map[int64]*group{}
	for id, ts := range s.Audit.Recent {
		k := ts.UnixNano()
		g := byTime[k]
		if g == nil {
			g = &group{T: ts.UTC()}
			byTime[k] = g
		}
		g.IDs = append(g.IDs, id)
	}
	groups := make([]group, 0, len(byTime))
	for _, g := range byTime {
		sort.Strings(g.IDs)
		groups = append(groups, *g)
	}
	sort.Slice(groups, func(i, j int) bool { return groups[i].T.Before(groups[j].T) })
	w := wireState{Version: FormatVersion, State: *s, Audit: wireAudit{Start: s.Audit.Start, Cursor: s.Audit.Cursor,
		SeenAtCursor: s.Audit.SeenAtCursor(), Recent: groups}}
	if !s.Audit.Covered.IsZero() {
		c := s.Audit.Covered.UTC()
		w.Audit.Covered = &c
	}
	if w.Audit.SeenAtCursor == nil {
		w.Audit.SeenAtCursor = []string{}
	}
	if w.Tokens == nil {
		w.Tokens = map[string]Token{}
	}
	return json.Marshal(w)
}

// Unmarshal decodes and validates a checkpoint of tenant read from where.
// Every failure is a *CorruptError.
func Unmarshal(data []byte, tenant, where string) (*State, error) {
	var w wireState
	if err := json.Unmarshal(data, &w); err != nil {
		return nil, &CorruptError{Where: where, Reason: "not valid JSON", Err: err}
	}
	if w.Version != FormatVersion {
		return nil, &CorruptError{Where: where, Reason: fmt.Sprintf("format version %d (this build reads %d)", w.Version, FormatVersion)}
	}
	if w.State.Tenant != tenant {
		return nil, &CorruptError{Where: where, Reason: fmt.Sprintf("holds tenant %q, want %q", w.State.Tenant, tenant)}
	}
	s := w.State
	s.Audit = Audit{Start: w.Audit.Start.UTC(), Cursor: w.Audit.Cursor.UTC(), Recent: map[string]time.Time{}}
	if w.Audit.Covered != nil {
		s.Audit.Covered = w.Audit.Covered.UTC()
	}
	if s.Audit.Cursor.Before(s.Audit.Start) {
		return nil, &CorruptError{Where: where, Reason: fmt.Sprintf("audit cursor %s before start %s", s.Audit.Cursor.Format(time.RFC3339Nano), s.Audit.Start.Format(time.RFC3339Nano))}
	}
	for _, g := range w.Audit.Recent {
		if g.T.After(s.Audit.Cursor) {
			return nil, &CorruptError{Where: where, Reason: fmt.Sprintf("recent IDs at %s after the cursor", g.T.Format(time.RFC3339Nano))}
		}
		for _, id := range g.IDs {
			if id == "" {
				return nil, &CorruptError{Where: where, Reason: "empty audit event ID"}
			}
			s.Audit.Recent[id] = g.T.UTC()
		}
	}
	for _, id := range w.Audit.SeenAtCursor {
		if ts, ok := s.Audit.Recent[id]; !ok || !ts.Equal(s.Audit.Cursor) {
			return nil, &CorruptError{Where: where, Reason: fmt.Sprintf("seen_at_cursor ID %s missing from recent", id)}
		}
	}
	if s.Tokens == nil {
		s.Tokens = map[string]Token{}
	}
	for id := range s.Tokens {
		if id == "" {
			return nil, &CorruptError{Where: where, Reason: "empty token ID"}
		}
	}
	return &s, nil
}
