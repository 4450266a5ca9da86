package falcontest

import (
	"cmp"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Errors returned by Tenant methods.
var (
	ErrTokenNotFound   = errors.New("falcontest: token not found")
	ErrMaxActiveTokens = errors.New("falcontest: max_active_tokens reached")
	ErrTokenNotUsable  = errors.New("falcontest: token is revoked or expired")
	ErrInvalidSettings = errors.New("falcontest: max_active_tokens must be positive")
)

// Tenant is one customer (CID): its API clients, tokens, settings and audit trail. Its methods change state
// exactly as the API does, audit events included, and are safe for concurrent use.
type Tenant struct {
	emu          *Emulator
	cid, region  string
	clients      []*apiClient
	lateFraction float64
	lateMax      time.Duration
	actors       []string // people and automation seen in this tenant's audit trail

	mu       sync.RWMutex
	rng      *rand.Rand
	tokens   map[string]*token
	values   map[string]bool
	settings settings
	audit    *auditStore
	actorIx  map[string]uint32
}

type apiClient struct {
	APIClient
	tenant  *Tenant
	scopes  map[string]bool
	members map[string]*Tenant // cidKey → tenant, own tenant included
}

type token struct {
	ref                        int32 // into audit.tokRefs
	id, label, value, typ      string
	created                    time.Time
	expires, lastUsed, revoked time.Time // zero = unset
}

type settings struct {
	tokensRequired bool
	maxActive      int64 // 0 = no limit
}

// TokenState is a token's full state, the secret value included (tests only).
type TokenState struct {
	ID, Label, Value, Type, Status string
	CreatedTimestamp               time.Time
	ExpiresTimestamp               *time.Time
	LastUsedTimestamp              *time.Time
	RevokedTimestamp               *time.Time
}

// SettingsState is the customer settings object.
type SettingsState struct {
	TokensRequired  bool
	MaxActiveTokens *int64 // nil = no limit
}

// CID returns the tenant's customer ID.
func (t *Tenant) CID() string { return t.cid }

// Region returns the region sent in X-CS-Region.
func (t *Tenant) Region() string { return t.region }

// Credentials returns the first API client's ID and secret.
func (t *Tenant) Credentials() (clientID, secret string) {
	return t.clients[0].ID, t.clients[0].Secret
}

// Clients returns the tenant's API clients, secrets included.
func (t *Tenant) Clients() []APIClient {
	out := make([]APIClient, len(t.clients))
	for i, c := range t.clients {
		out[i] = c.APIClient
		out[i].Scopes = slices.Clone(c.Scopes)
		out[i].MemberCIDs = slices.Clone(c.MemberCIDs)
	}
	return out
}

// CreateToken creates a customer_managed token as tokens_create does; expires nil means never.
func (t *Tenant) CreateToken(actor, label string, expires *time.Time) (string, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	tok, err := t.createLocked(actor, label, "customer_managed", expires, 0)
	if err != nil {
		return "", err
	}
	return tok.id, nil
}

// RenameToken changes a token's label (a token_update event when it differs).
func (t *Tenant) RenameToken(actor, id, label string) error {
	return t.patch(actor, id, tokenPatch{label: &label})
}

// SetExpiry changes a token's expiry; nil means never expires (a token_update event when it differs).
func (t *Tenant) SetExpiry(actor, id string, expires *time.Time) error {
	return t.patch(actor, id, tokenPatch{setExpiry: true, expires: expires})
}

// RevokeToken revokes a token (a token_revoke event unless already revoked).
func (t *Tenant) RevokeToken(actor, id string) error {
	v := true
	return t.patch(actor, id, tokenPatch{revoked: &v})
}

// RestoreToken restores a revoked token (a token_restore event unless not revoked). max_active_tokens does
// not apply.
func (t *Tenant) RestoreToken(actor, id string) error {
	v := false
	return t.patch(actor, id, tokenPatch{revoked: &v})
}

// DeleteToken deletes a token (a token_delete event); its audit events stay.
func (t *Tenant) DeleteToken(actor, id string) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	tok, ok := t.tokens[strings.ToLower(id)]
	if !ok {
		return fmt.Errorf("delete %s: %w", id, ErrTokenNotFound)
	}
	t.deleteLocked(actor, tok, 0)
	return nil
}

// UpdateSettings changes customer settings as customer_settings_update does; nil leaves a field alone and
// a maxActive of 0 removes the limit. One customer_settings_update event when something changes.
func (t *Tenant) UpdateSettings(actor string, tokensRequired *bool, maxActive *int64) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.settingsLocked(actor, tokensRequired, maxActive, 0)
}

// SimulateInstall records a sensor install with the token: last_used_timestamp becomes now. No audit
// event. It fails for unknown, revoked and expired tokens, which a real install would reject.
func (t *Tenant) SimulateInstall(tokenID string) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	tok, ok := t.tokens[strings.ToLower(tokenID)]
	if !ok {
		return fmt.Errorf("install with %s: %w", tokenID, ErrTokenNotFound)
	}
	now := t.emu.now()
	if !tok.revoked.IsZero() || (!tok.expires.IsZero() && !tok.expires.After(now)) {
		return fmt.Errorf("install with %s: %w", tokenID, ErrTokenNotUsable)
	}
	tok.lastUsed = t.emu.stamp(now)
	return nil
}

// Tokens returns every existing token ordered by (created_timestamp, id).
func (t *Tenant) Tokens() []TokenState {
	t.mu.RLock()
	defer t.mu.RUnlock()
	now := t.emu.now()
	out := make([]TokenState, 0, len(t.tokens))
	for _, tok := range t.tokens {
		out = append(out, t.state(tok, now))
	}
	slices.SortFunc(out, func(a, b TokenState) int {
		return cmp.Or(a.CreatedTimestamp.Compare(b.CreatedTimestamp), strings.Compare(a.ID, b.ID))
	})
	return out
}

// Token returns one token's state.
func (t *Tenant) Token(id string) (TokenState, bool) {
	t.mu.RLock()
	defer t.mu.RUnlock()
	tok, ok := t.tokens[strings.ToLower(id)]
	if !ok {
		return TokenState{}, false
	}
	return t.state(tok, t.emu.now()), true
}

// Settings returns the customer settings.
func (t *Tenant) Settings() SettingsState {
	t.mu.RLock()
	defer t.mu.RUnlock()
	s := SettingsState{TokensRequired: t.settings.tokensRequired}
	if t.settings.maxActive > 0 {
		v := t.settings.maxActive
		s.MaxActiveTokens = &v
	}
	return s
}

// AuditEventCount returns the number of audit events, not yet visible ones included.
func (t *Tenant) AuditEventCount() int {
	t.mu.RLock()
	defer t.mu.RUnlock()
	return t.audit.len()
}

// AuditEventIDs returns event IDs ordered by (timestamp, id): the visible ones at the clock's now, or all.
func (t *Tenant) AuditEventIDs(visibleOnly bool) []string {
	seqs := t.auditSeqs(visibleOnly)
	out := make([]string, len(seqs))
	for i, s := range seqs {
		out[i] = idString(t.audit.ids.encode(s))
	}
	return out
}

// AuditEvents returns events ordered by (timestamp, id): the visible ones at the clock's now, or all.
func (t *Tenant) AuditEvents(visibleOnly bool) []AuditEvent {
	seqs := t.auditSeqs(visibleOnly)
	t.mu.RLock()
	defer t.mu.RUnlock()
	out := make([]AuditEvent, len(seqs))
	for i, s := range seqs {
		out[i] = t.audit.record(s)
	}
	return out
}

func (t *Tenant) auditSeqs(visibleOnly bool) []uint32 {
	t.mu.Lock()
	defer t.mu.Unlock()
	a := t.audit
	a.promote(t.emu.now().UnixNano())
	seqs := a.index.appendRange(make([]uint32, 0, a.index.len()), 0, a.index.len())
	if !visibleOnly && len(a.pending) > 0 {
		for _, p := range a.pending {
			seqs = append(seqs, p.seq)
		}
		slices.SortFunc(seqs, func(x, y uint32) int {
			if a.less(x, y) {
				return -1
			}
			return 1
		})
	}
	return seqs
}

func (t *Tenant) state(tok *token, now time.Time) TokenState {
	opt := func(v time.Time) *time.Time {
		if v.IsZero() {
			return nil
		}
		return &v
	}
	return TokenState{
		ID: tok.id, Label: tok.label, Value: tok.value, Type: tok.typ, Status: t.status(tok, now),
		CreatedTimestamp: tok.created, ExpiresTimestamp: opt(tok.expires),
		LastUsedTimestamp: opt(tok.lastUsed), RevokedTimestamp: opt(tok.revoked),
	}
}

func (t *Tenant) status(tok *token, now time.Time) string {
	switch {
	case !tok.revoked.IsZero():
		return "revoked"
	case t.emu.cfg.ReportExpiredStatus && !tok.expires.IsZero() && !tok.expires.After(now):
		return "expired"
	}
	return "valid"
}

// activeCount is the number of valid, unexpired tokens (what max_active_tokens limits).
func (t *Tenant) activeCount(now time.Time) int64 {
	var n int64
	for _, tok := range t.tokens {
		if tok.revoked.IsZero() && (tok.expires.IsZero() || tok.expires.After(now)) {
			n++
		}
	}
	return n
}

// lateDelay draws a late-arrival delay for an activity event (0 for most).
func (t *Tenant) lateDelay() time.Duration {
	if t.lateFraction <= 0 || t.rng.Float64() >= t.lateFraction {
		return 0
	}
	return time.Duration(1 + t.rng.Int64N(int64(t.lateMax)))
}

func (t *Tenant) event(actor string, a action, d desc, ref int32, delay time.Duration) {
	now := t.emu.now()
	ts := t.emu.stamp(now).UnixNano()
	ix, ok := t.actorIx[actor]
	if !ok {
		ix = t.audit.intern(actor)
		t.actorIx[actor] = ix
	}
	t.audit.add(ts, a, ix, d, ref, ts+int64(delay), now.UnixNano())
}

func (t *Tenant) newValue() string {
	for {
		v := strings.ToUpper(strconv.FormatUint(uint64(t.rng.Uint32())|1<<32, 16)[1:])
		if !t.values[v] {
			return v
		}
	}
}

func tokenName(label, id string) string {
	if label == "" {
		return id
	}
	return label
}

func (t *Tenant) createLocked(actor, label, typ string, expires *time.Time, delay time.Duration) (*token, error) {
	now := t.emu.now()
	if t.settings.maxActive > 0 && t.activeCount(now) >= t.settings.maxActive {
		return nil, fmt.Errorf("create token %q: %w (%d)", label, ErrMaxActiveTokens, t.settings.maxActive)
	}
	rawID := randomID(t.rng)
	tok := &token{
		id: idString(rawID), label: label, typ: typ, value: t.newValue(),
		created: t.emu.stamp(now),
	}
	if expires != nil {
		tok.expires = expires.UTC().Truncate(time.Second)
	}
	tok.ref = int32(len(t.audit.tokRefs))
	t.audit.tokRefs = append(t.audit.tokRefs, rawID)
	t.tokens[tok.id] = tok
	t.values[tok.value] = true
	t.event(actor, actTokenCreate, desc{kind: descCreated, label: tokenName(label, tok.id)}, tok.ref, delay)
	return tok, nil
}

type tokenPatch struct {
	label     *string
	setExpiry bool
	expires   *time.Time // with setExpiry: nil clears
	revoked   *bool
}

func (t *Tenant) patch(actor, id string, p tokenPatch) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	tok, ok := t.tokens[strings.ToLower(id)]
	if !ok {
		return fmt.Errorf("update %s: %w", id, ErrTokenNotFound)
	}
	t.patchLocked(actor, tok, p, 0)
	return nil
}

// patchLocked applies p and writes one event per effective change: token_update for label and expiry
// together, then token_revoke or token_restore.
func (t *Tenant) patchLocked(actor string, tok *token, p tokenPatch, delay time.Duration) {
	var changes []desc
	oldName := tokenName(tok.label, tok.id)
	if p.label != nil && *p.label != tok.label {
		changes = append(changes, desc{kind: descRenamed, label: oldName, label2: tokenName(*p.label, tok.id)})
		tok.label = *p.label
	}
	if p.setExpiry {
		var exp time.Time
		if p.expires != nil {
			exp = p.expires.UTC().Truncate(time.Second)
		}
		if !exp.Equal(tok.expires) {
			if exp.IsZero() {
				changes = append(changes, desc{kind: descExpiryRemoved, label: oldName})
			} else {
				changes = append(changes, desc{kind: descExpirySet, label: oldName, at: exp})
			}
			tok.expires = exp
		}
	}
	switch len(changes) {
	case 1:
		t.event(actor, actTokenUpdate, changes[0], tok.ref, delay)
	case 2: // one event for both: "token A renamed to B; expiry set to X"
		text := changes[0].String() + "; " + strings.TrimPrefix(changes[1].String(), "token "+oldName+" ")
		t.event(actor, actTokenUpdate, desc{label: text}, tok.ref, delay)
	}
	if p.revoked != nil {
		name := tokenName(tok.label, tok.id)
		switch {
		case *p.revoked && tok.revoked.IsZero():
			tok.revoked = t.emu.stamp(t.emu.now())
			t.event(actor, actTokenRevoke, desc{kind: descRevoked, label: name}, tok.ref, delay)
		case !*p.revoked && !tok.revoked.IsZero():
			tok.revoked = time.Time{}
			t.event(actor, actTokenRestore, desc{kind: descRestored, label: name}, tok.ref, delay)
		}
	}
}

func (t *Tenant) deleteLocked(actor string, tok *token, delay time.Duration) {
	delete(t.tokens, tok.id)
	delete(t.values, tok.value)
	t.event(actor, actTokenDelete, desc{kind: descDeleted, label: tokenName(tok.label, tok.id)}, tok.ref, delay)
}

func (t *Tenant) settingsLocked(actor string, tokensRequired *bool, maxActive *int64, delay time.Duration) error {
	if maxActive != nil && *maxActive < 0 {
		return ErrInvalidSettings
	}
	var changes []string
	if tokensRequired != nil && *tokensRequired != t.settings.tokensRequired {
		changes = append(changes, fmt.Sprintf("tokens_required changed from %t to %t", t.settings.tokensRequired, *tokensRequired))
		t.settings.tokensRequired = *tokensRequired
	}
	if maxActive != nil && *maxActive != t.settings.maxActive {
		changes = append(changes, describeMaxActive(t.settings.maxActive, *maxActive))
		t.settings.maxActive = *maxActive
	}
	if len(changes) > 0 {
		t.event(actor, actSettingsUpdate, desc{label: strings.Join(changes, "; ")}, -1, delay)
	}
	return nil
}

func describeMaxActive(from, to int64) string {
	switch {
	case from == 0:
		return fmt.Sprintf("max_active_tokens set to %d", to)
	case to == 0:
		return fmt.Sprintf("max_active_tokens removed (was %d)", from)
	}
	return fmt.Sprintf("max_active_tokens changed from %d to %d", from, to)
}
