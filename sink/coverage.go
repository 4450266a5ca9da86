package sink

import (
	"time"

	"github.com/tokentrail/tokentrail/schema"
)

// coverageTable writes coverage records (migration 0003) to
// collection_coverage.
var coverageTable = table{
	name: "collection_coverage",
	columns: []string{"tenant", "poll_started", "audit_from", "audit_to", "query_from", "api_total", "published",
		"published_late", "tokens_snapshot", "tokens", "settings_snapshot", "failures", "error", "collected_at", "version", "schema_version"},
	rows: func(b *batch) int { return len(b.coverage.tenant) },
	values: func(b *batch) []any {
		c := &b.coverage
		return []any{c.tenant, c.pollStarted, c.auditFrom, c.auditTo, c.queryFrom, c.apiTotal, c.published,
			c.publishedLate, c.tokensSnapshot, c.tokens, c.settingsSnapshot, c.failures, c.err, c.collectedAt, c.version, c.schemaVersion}
	},
}

type coverageColumns struct {
	tenant, err                                []string
	pollStarted, auditTo, collectedAt          []time.Time
	auditFrom, queryFrom                       []*time.Time
	apiTotal, published, publishedLate, tokens []int64
	tokensSnapshot, settingsSnapshot           []uint8
	failures                                   []uint32
	version                                    []uint64
	schemaVersion                              []uint16
}

func (c *coverageColumns) reset() {
	*c = coverageColumns{c.tenant[:0], c.err[:0], c.pollStarted[:0], c.auditTo[:0], c.collectedAt[:0], c.auditFrom[:0],
		c.queryFrom[:0], c.apiTotal[:0], c.published[:0], c.publishedLate[:0], c.tokens[:0], c.tokensSnapshot[:0],
		c.settingsSnapshot[:0], c.failures[:0], c.version[:0], c.schemaVersion[:0]}
}

// addCoverage appends a coverage record's row.
func (b *batch) addCoverage(r *schema.Coverage, version uint64, sv uint16) error {
	for _, ts := range []struct {
		field string
		t     *time.Time
	}{{"poll_started", &r.PollStarted}, {"audit_from", r.AuditFrom}, {"audit_to", &r.AuditTo}, {"query_from", r.QueryFrom}} {
		if ts.t != nil {
			if err := checkTime(ts.field, *ts.t); err != nil {
				return err
			}
		}
	}
	c := &b.coverage
	c.tenant = append(c.tenant, r.Tenant)
	c.pollStarted = append(c.pollStarted, r.PollStarted)
	c.auditFrom = append(c.auditFrom, r.AuditFrom)
	c.auditTo = append(c.auditTo, r.AuditTo)
	c.queryFrom = append(c.queryFrom, r.QueryFrom)
	c.apiTotal = append(c.apiTotal, r.APITotal)
	c.published = append(c.published, r.Published)
	c.publishedLate = append(c.publishedLate, r.PublishedLate)
	c.tokensSnapshot = append(c.tokensSnapshot, boolByte(r.TokensSnapshot))
	c.tokens = append(c.tokens, r.Tokens)
	c.settingsSnapshot = append(c.settingsSnapshot, boolByte(r.SettingsSnapshot))
	c.failures = append(c.failures, uint32(r.Failures))
	c.err = append(c.err, r.Error)
	c.collectedAt = append(c.collectedAt, r.CollectedAt)
	c.version = append(c.version, version)
	c.schemaVersion = append(c.schemaVersion, sv)
	return nil
}
