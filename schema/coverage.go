package schema

import (
	"encoding/json"
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
	Failures int    `json:"failures"`
	Error    string `json:"error"`
}

// Type implements Record.
func (*Coverage) Type() string { return TypeCoverage }

// Key implements Record.
func (c *Coverage) Key() string { return c.Tenant }

// decodeCoverage parses and validates a coverage record whose envelope
// Decode has checked.
func decodeCoverage(data []byte, env Envelope) (*Coverage, error) {
	var c Coverage
	if err := json.Unmarshal(data, &c); err != nil {
		return nil, &DecodeError{Reason: err.Error(), Err: ErrMalformed}
	}
	c.Envelope = env
	switch {
	case c.PollStarted.IsZero():
		return nil, invalid("poll_started", "missing")
	case c.AuditTo.IsZero():
		return nil, invalid("audit_to", "missing")
	case c.AuditFrom != nil && c.AuditTo.Before(*c.AuditFrom):
		return nil, invalid("audit_to", "before audit_from")
	case c.QueryFrom != nil && c.AuditFrom != nil && c.QueryFrom.After(*c.AuditFrom):
		return nil, invalid("query_from", "after audit_from")
	case c.APITotal < -1:
		return nil, invalid("api_total", fmt.Sprintf("%d", c.APITotal))
	case c.Published < 0 || c.PublishedLate < 0 || c.PublishedLate > c.Published:
		return nil, invalid("published_late", "negative or above published")
	case c.Tokens < 0 || c.Failures < 0:
		return nil, invalid("failures", "negative count")
	}
	c.PollStarted, c.AuditTo = c.PollStarted.UTC(), c.AuditTo.UTC()
	c.AuditFrom, c.QueryFrom = utc(c.AuditFrom), utc(c.QueryFrom)
	return &c, nil
}
