package falcontest

import (
	"errors"
	"fmt"
	"strings"
	"time"
)

// API scope strings (contract §7). The settings scope is the emulator's choice; the real one is unconfirmed.
const (
	ScopeRead          = "installation-tokens:read"
	ScopeWrite         = "installation-tokens:write"
	ScopeSettingsWrite = "installation-tokens-settings:write"
)

// Operation names, as used in Faults.Operations, ScheduledFault.Operation and Request.Operation.
const (
	OpTokensQuery            = "tokens_query"
	OpTokensRead             = "tokens_read"
	OpTokensCreate           = "tokens_create"
	OpTokensUpdate           = "tokens_update"
	OpTokensDelete           = "tokens_delete"
	OpAuditEventsQuery       = "audit_events_query"
	OpAuditEventsRead        = "audit_events_read"
	OpCustomerSettingsRead   = "customer_settings_read"
	OpCustomerSettingsUpdate = "customer_settings_update"
	OpOAuth2Token            = "oauth2_token"
	OpOAuth2Revoke           = "oauth2_revoke"
)

// Operations lists every operation name the emulator serves: the nine API operations, then the two OAuth ones.
func Operations() []string {
	return []string{OpTokensQuery, OpTokensRead, OpTokensCreate, OpTokensUpdate, OpTokensDelete,
		OpAuditEventsQuery, OpAuditEventsRead, OpCustomerSettingsRead, OpCustomerSettingsUpdate,
		OpOAuth2Token, OpOAuth2Revoke}
}

// Defaults applied to zero values.
const (
	DefaultOffsetCap   = 10000
	DefaultTokenTTL    = 1799 * time.Second
	DefaultLateMax     = 2 * time.Minute
	DefaultSpan        = 30 * 24 * time.Hour
	DefaultRecordLimit = 10000
	DefaultRegion      = "us-1"
	// DefaultBadBearerPerMinute and DefaultTokenPerMinute are the per-source-IP limits of §8.
	DefaultBadBearerPerMinute = 15
	DefaultTokenPerMinute     = 300
	// DisabledRateLimitHeader is the X-RateLimit-Limit sent when rate limiting is disabled (the documented
	// per-CID default); X-RateLimit-Remaining is then always one less.
	DisabledRateLimitHeader = 6000
)

// Config configures an Emulator. The zero value is a working emulator with one small seeded tenant, real
// time, no rate limits and no faults.
type Config struct {
	// Seed makes tenants, IDs, secrets and fault draws deterministic.
	Seed int64
	// Tenants to create; empty means one default tenant (see DefaultTenant).
	Tenants []TenantConfig
	// OffsetCap rejects queries with offset+limit above it (400). 0 means DefaultOffsetCap; < 0 disables it.
	OffsetCap int
	// MaxIDsPerRead caps the number of distinct ids per request on the four operations taking ids (400 above
	// it). 0 means no cap.
	MaxIDsPerRead int
	// TokenTTL is the OAuth access-token lifetime (expires_in). 0 means DefaultTokenTTL.
	TokenTTL time.Duration
	// RateLimit configures the gateway's limits; the zero value disables them.
	RateLimit RateLimit
	// Clock supplies "now" for timestamps, token expiry, late arrivals and rate windows. nil means real time.
	Clock *Clock
	// Strict answers 400 to API requests without Content-Type: application/json.
	Strict bool
	// LegacyWriteResponses makes tokens_update and customer_settings_update return ID strings (the shape
	// before the 2025 change): token IDs, and the CID for settings.
	LegacyWriteResponses bool
	// FractionalTimestamps stores and emits microsecond timestamps (expires_timestamp stays whole seconds).
	FractionalTimestamps bool
	// ZeroTimeForUnset emits unset timestamps as "0001-01-01T00:00:00Z" instead of null.
	ZeroTimeForUnset bool
	// ReportExpiredStatus reports status "expired" for unrevoked tokens past their expiry.
	ReportExpiredStatus bool
	// NextOffsetInPagination returns offset+len(resources) in meta.pagination.offset instead of the request's.
	NextOffsetInPagination bool
	// NotFoundWhenNoneMatch answers tokens_read and audit_events_read with 404 when no id matches.
	NotFoundWhenNoneMatch bool
	// ClampLimit silently clamps limit into 1..1000 instead of answering 400.
	ClampLimit bool
	// RecordLimit bounds Requests(): the most recent RecordLimit requests are kept. 0 means
	// DefaultRecordLimit; < 0 disables recording.
	RecordLimit int
	// Faults is the initial fault configuration; see also Emulator.SetFaults.
	Faults Faults
}

// TenantConfig configures one customer (CID) and its synthetic data.
type TenantConfig struct {
	// CID of the tenant; empty means one derived from the seed (32 lowercase hex characters).
	CID string
	// Region sent in X-CS-Region; empty means DefaultRegion.
	Region string
	// Clients are the API clients of this CID; empty means one client with all scopes whose ID and secret
	// derive from the seed.
	Clients []APIClient
	// Tokens is the number of tokens that exist when the emulator starts.
	Tokens int
	// Events is the number of audit events in the seeded history.
	Events int
	// Ties is the size of the largest burst of events sharing one timestamp; several smaller bursts
	// (halving sizes) come with it. 0 means only the collisions random timestamps produce.
	Ties int
	// LateFraction of events (seeded and RunActivity ones) become visible only after their timestamp, with a
	// delay uniform in (0, LateMax].
	LateFraction float64
	// LateMax bounds late-arrival delays; 0 means DefaultLateMax.
	LateMax time.Duration
	// Span: seeded events lie in [End-Span, End] where End is the clock's now at construction. 0 means
	// DefaultSpan.
	Span time.Duration
	// MaxActiveTokens is the final max_active_tokens setting; nil means no limit.
	MaxActiveTokens *int64
	// TokensRequired is the final tokens_required setting.
	TokensRequired bool
	// Churn weighs the kinds of event in the seeded history; nil means BusyChurn.
	Churn *Churn
}

// Churn weighs the kinds of event a seeded history holds. Weights are relative; each event that does not
// create a surviving token draws its kind from them.
type Churn struct {
	// ShortLived: short-lived tokens (CI runners, autoscaling) created and, by the end, deleted: half the
	// weight creates, half deletes.
	ShortLived float64
	// Update: renames and expiry changes of existing tokens.
	Update float64
	// Status: revocations and restores.
	Status float64
	// Settings: changes of tokens_required or max_active_tokens.
	Settings float64
	// CreatedInWindow is the share of the tokens existing at the end whose creation lies in the seeded
	// span; the others predate it.
	CreatedInWindow float64
}

// BusyChurn is the default: short-lived tokens churn through nearly half the events and most tokens were
// created in the span. It stresses the collector and the benchmarks, not a reader.
var BusyChurn = Churn{ShortLived: 0.44, Update: 0.30, Status: 0.16, Settings: 0.008, CreatedInWindow: 0.8}

// SteadyChurn is a believable enterprise tenant: most tokens are older than the span, changes are mostly
// renames and expiry updates, revocations occasional, deletions of short-lived tokens rare and settings
// change a couple of times a month at most. The demo uses it.
var SteadyChurn = Churn{ShortLived: 0.03, Update: 0.60, Status: 0.12, Settings: 0.006, CreatedInWindow: 0.12}

// APIClient is an OAuth2 API client of a tenant.
type APIClient struct {
	ID, Secret string
	// Scopes granted; see the Scope constants.
	Scopes []string
	// MemberCIDs are child CIDs this (MSSP parent) client may act for with member_cid.
	MemberCIDs []string
}

// RateLimit configures the gateway's sliding 60-second windows. The zero value disables all limits; the
// headers are still sent (see DisabledRateLimitHeader).
type RateLimit struct {
	// PerMinute is the per-CID limit, shared by all clients of the CID. 0 disables rate limiting entirely.
	PerMinute int
	// BadBearerPerMinute limits requests with a missing, malformed, expired or revoked bearer per source IP
	// (429 once exceeded). 0 means DefaultBadBearerPerMinute.
	BadBearerPerMinute int
	// TokenPerMinute limits /oauth2/token requests per source IP. 0 means DefaultTokenPerMinute.
	TokenPerMinute int
}

// FaultKind names an injected failure.
type FaultKind string

// Fault kinds, for Faults.Schedule.
const (
	FaultServerError    FaultKind = "500"          // 500 with the trace-id message
	FaultBadGateway     FaultKind = "502"          // 502 with an HTML body from the load balancer
	FaultUnavailable    FaultKind = "503"          // 503 JSON envelope
	FaultRateLimitStorm FaultKind = "429"          // 429 with headers, regardless of the window
	FaultNotFound       FaultKind = "404"          // 404 envelope with an empty resources list
	FaultTruncate       FaultKind = "truncate"     // the request is processed; the body is cut mid-JSON
	FaultInvalidJSON    FaultKind = "invalid_json" // the request is processed; the body is not JSON
	FaultReset          FaultKind = "reset"        // the request is processed; the connection is reset
)

var faultKinds = map[FaultKind]bool{FaultServerError: true, FaultBadGateway: true, FaultUnavailable: true,
	FaultRateLimitStorm: true, FaultNotFound: true, FaultTruncate: true, FaultInvalidJSON: true, FaultReset: true}

// ScheduledFault fails specific requests: the Nth to the (Nth+Count-1)th request of Operation (counted from
// New or the last SetFaults, among requests that pass authentication and the rate limit).
type ScheduledFault struct {
	// Operation to count; "" counts every operation in Faults.Operations (all when that is empty).
	Operation string
	// Nth is 1-based.
	Nth int
	// Count of consecutive requests to fail; 0 means 1.
	Count int
	Kind  FaultKind
}

// Faults configures fault injection. Probabilities are in [0,1] and drawn independently per request, after
// authentication and rate limiting. Operations limits probabilistic and scheduled faults (and Latency) to
// the named operations; empty means all of them, OAuth included.
type Faults struct {
	// ServerErrorRate: 500 (`Internal Server Error: Please provide trace-id='<trace>' to support`), 502 or 503
	// (60/20/20), before the request is processed.
	ServerErrorRate float64
	// Latency added before the request is processed.
	Latency time.Duration
	// RateLimitStormRate: 429 with X-RateLimit-RetryAfter 1–3 s ahead, regardless of the window.
	RateLimitStormRate float64
	// TruncateRate: the request is processed and its body cut mid-JSON.
	TruncateRate float64
	// InvalidJSONRate: the request is processed and its body replaced by invalid JSON.
	InvalidJSONRate float64
	// ResetRate: the request is processed, then the connection is reset without a response.
	ResetRate float64
	// ErrorsStyle is how an empty errors list is sent: "" or "empty" → [], "null", "absent".
	ErrorsStyle string
	// ResourcesNullOnError adds "resources": null to every error body. Without it only the service's own
	// 400/409/500 bodies carry it (as in contract §4) and gateway bodies (401/403/429) omit it.
	ResourcesNullOnError bool
	// GreaterActsAsGreaterEqual makes the FQL operator '>' behave like '>='.
	GreaterActsAsGreaterEqual bool
	// Operations the faults apply to; empty means all.
	Operations []string
	// Schedule fails specific requests deterministically.
	Schedule []ScheduledFault
}

// Validate reports the first invalid setting.
func (f Faults) Validate() error {
	for name, p := range map[string]float64{"ServerErrorRate": f.ServerErrorRate, "RateLimitStormRate": f.RateLimitStormRate,
		"TruncateRate": f.TruncateRate, "InvalidJSONRate": f.InvalidJSONRate, "ResetRate": f.ResetRate} {
		if !(p >= 0 && p <= 1) {
			return fmt.Errorf("faults: %s %v is not a probability in [0,1]", name, p)
		}
	}
	if f.Latency < 0 {
		return fmt.Errorf("faults: Latency %v is negative", f.Latency)
	}
	switch f.ErrorsStyle {
	case "", "empty", "null", "absent":
	default:
		return fmt.Errorf("faults: ErrorsStyle %q: want \"\", \"empty\", \"null\" or \"absent\"", f.ErrorsStyle)
	}
	for _, op := range f.Operations {
		if !isOperation(op) {
			return fmt.Errorf("faults: unknown operation %q", op)
		}
	}
	for i, s := range f.Schedule {
		if s.Operation != "" && !isOperation(s.Operation) {
			return fmt.Errorf("faults: schedule[%d]: unknown operation %q", i, s.Operation)
		}
		if s.Nth < 1 || s.Count < 0 {
			return fmt.Errorf("faults: schedule[%d]: Nth must be ≥ 1 and Count ≥ 0", i)
		}
		if !faultKinds[s.Kind] {
			return fmt.Errorf("faults: schedule[%d]: unknown kind %q", i, s.Kind)
		}
	}
	return nil
}

func isOperation(name string) bool {
	for _, op := range Operations() {
		if op == name {
			return true
		}
	}
	return false
}

// DefaultTenant is the tenant created when Config.Tenants is empty.
func DefaultTenant() TenantConfig {
	return TenantConfig{Tokens: 25, Events: 500, Ties: 40}
}

// ErrInvalidConfig is wrapped by every configuration error New returns.
var ErrInvalidConfig = errors.New("falcontest: invalid config")

func (c *Config) validate() error {
	bad := func(format string, args ...any) error {
		return fmt.Errorf("%w: %s", ErrInvalidConfig, fmt.Sprintf(format, args...))
	}
	if c.MaxIDsPerRead < 0 {
		return bad("MaxIDsPerRead %d is negative", c.MaxIDsPerRead)
	}
	if c.TokenTTL < 0 {
		return bad("TokenTTL %v is negative", c.TokenTTL)
	}
	if c.RateLimit.PerMinute < 0 || c.RateLimit.BadBearerPerMinute < 0 || c.RateLimit.TokenPerMinute < 0 {
		return bad("RateLimit values must not be negative")
	}
	if err := c.Faults.Validate(); err != nil {
		return fmt.Errorf("%w: %v", ErrInvalidConfig, err)
	}
	cids := map[string]bool{}
	clients := map[string]bool{}
	for i, tc := range c.Tenants {
		switch {
		case tc.Tokens < 0 || tc.Events < 0 || tc.Ties < 0:
			return bad("tenant %d: Tokens, Events and Ties must not be negative", i)
		case tc.Ties > tc.Events:
			return bad("tenant %d: Ties %d exceeds Events %d", i, tc.Ties, tc.Events)
		case !(tc.LateFraction >= 0 && tc.LateFraction <= 1):
			return bad("tenant %d: LateFraction %v is not in [0,1]", i, tc.LateFraction)
		case tc.LateMax < 0 || tc.Span < 0:
			return bad("tenant %d: LateMax and Span must not be negative", i)
		case tc.MaxActiveTokens != nil && *tc.MaxActiveTokens <= 0:
			return bad("tenant %d: MaxActiveTokens must be positive", i)
		case strings.ContainsAny(tc.CID, " \t\r\n/"):
			return bad("tenant %d: CID %q contains spaces or slashes", i, tc.CID)
		}
		if tc.CID != "" {
			k := cidKey(tc.CID)
			if cids[k] {
				return bad("tenant %d: duplicate CID %q", i, tc.CID)
			}
			cids[k] = true
		}
		for j, cl := range tc.Clients {
			if cl.ID == "" || cl.Secret == "" {
				return bad("tenant %d client %d: ID and Secret are required", i, j)
			}
			if clients[cl.ID] {
				return bad("tenant %d client %d: duplicate client ID %q", i, j, cl.ID)
			}
			clients[cl.ID] = true
		}
	}
	// Member CIDs may name derived CIDs; New resolves them once every tenant exists.
	return nil
}

// cidKey normalises a CID for lookups: case-insensitive, with an optional "-XX" checksum suffix dropped.
func cidKey(cid string) string {
	cid = strings.ToLower(strings.TrimSpace(cid))
	if i := strings.LastIndexByte(cid, '-'); i >= 0 && len(cid)-i == 3 {
		cid = cid[:i]
	}
	return cid
}
