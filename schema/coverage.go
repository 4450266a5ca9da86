package schema

import (
	"fmt"
	"time"
)

// TypeCoverage is the record_type of Coverage records.
const TypeCoverage = "coverage"

// TopicCoverage is the default topic of Coverage records.
const TopicCoverage = "installation_tokens.coverage"

// Coverage is what one poll of one tenant collected: the evidence that a
// period was collected completely. The collector publishes one per poll,
// after the poll's records were acknowledged, keyed by tenant.
//
// The audit windows of successive polls tile time: AuditFrom is where the
// previous poll's window ended (the collector's checkpoint keeps it), so a
// collector stopped for an hour reads that hour on its next poll, and a
// failed audit step leaves AuditTo equal to AuditFrom.
type Coverage struct {
	Envelope
	// PollStarted is when the poll began; CollectedAt when it ended.
	PollStarted time.Time `json:"poll_started"`
	// AuditFrom and AuditTo bound the audit events the poll is
	// responsible for: timestamps in [AuditFrom, AuditTo). AuditFrom is
	// nil when collection starts at the beginning of the audit trail.
	AuditFrom *time.Time `json:"audit_from"`
	AuditTo   time.Time  `json:"audit_to"`
	// QueryFrom is the start of the window actually queried: AuditFrom
	// less the lookback that re-reads late arrivals.
	QueryFrom *time.Time `json:"query_from"`
	// APITotal is meta.pagination.total of the audit query for
	// [QueryFrom, AuditTo): the events the API reported; -1 when the
	// query failed before answering.
	APITotal int64 `json:"api_total"`
	// Published is the number of audit events the poll published (events
	// not published by an earlier poll); PublishedLate those among them
	// with a timestamp before AuditFrom, found by the lookback.
	Published     int64 `json:"published"`
	PublishedLate int64 `json:"published_late"`
	// TokensSnapshot: the token snapshot succeeded, with Tokens tokens.
	TokensSnapshot bool  `json:"tokens_snapshot"`
	Tokens         int64 `json:"tokens"`
	// SettingsSnapshot: the settings were read.
	SettingsSnapshot bool `json:"settings_snapshot"`
	// Failures counts the failed steps (settings, tokens, audit); Error
	// says what failed, "" when nothing did.
	Failures int64  `json:"failures"`
	Error    string `json:"error"`
}

// Type implements Record.
func (*Coverage) Type() string { return TypeCoverage }

// Key implements Record.
func (c *Coverage) Key() string { return c.Tenant }

var coverageDef = newDef(TypeCoverage, func(r *Coverage) *Envelope { return &r.Envelope }, checkCoverage,
	[]string{"collection_coverage"}, append(envelopeFields(func(r *Coverage) *Envelope { return &r.Envelope }),
		fld(func(r *Coverage) any { return &r.PollStarted }, stored),
		fld(func(r *Coverage) any { return &r.AuditFrom }, stored),
		fld(func(r *Coverage) any { return &r.AuditTo }, stored),
		fld(func(r *Coverage) any { return &r.QueryFrom }, stored),
		fld(func(r *Coverage) any { return &r.APITotal }, stored),
		fld(func(r *Coverage) any { return &r.Published }, stored),
		fld(func(r *Coverage) any { return &r.PublishedLate }, stored),
		fld(func(r *Coverage) any { return &r.TokensSnapshot }, stored),
		fld(func(r *Coverage) any { return &r.Tokens }, stored),
		fld(func(r *Coverage) any { return &r.SettingsSnapshot }, stored),
		fld(func(r *Coverage) any { return &r.Failures }, stored),
		fld(func(r *Coverage) any { return &r.Error }, stored),
	)...)

func checkCoverage(c *Coverage) error {
	switch {
	case c.PollStarted.IsZero():
		return invalid("poll_started", "missing")
	case c.AuditTo.IsZero():
		return invalid("audit_to", "missing")
	case c.AuditFrom != nil && c.AuditTo.Before(*c.AuditFrom):
		return invalid("audit_to", "before audit_from")
	case c.QueryFrom != nil && c.AuditFrom != nil && c.QueryFrom.After(*c.AuditFrom):
		return invalid("query_from", "after audit_from")
	case c.APITotal < -1:
		return invalid("api_total", fmt.Sprintf("%d", c.APITotal))
	case c.Published < 0 || c.PublishedLate < 0 || c.PublishedLate > c.Published:
		return invalid("published_late", "negative or above published")
	case c.Tokens < 0 || c.Failures < 0:
		return invalid("failures", "negative count")
	}
	return nil
}
