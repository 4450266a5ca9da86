package report

import (
	"strings"

	"github.com/tokentrail/tokentrail/queries"
)

// DefaultTop is how many rows of a section (or of a finding kind) a pack
// shows; the CSV beside it holds them all.
const DefaultTop = 10

// Unknown is what a pack shows for a value the collected data cannot
// know: an actor or label from before the audit trail was collected.
const Unknown = "unknown (before collection began)"

// packColumns are the columns a pack shows of a section, so that its table
// fits an A4 or Letter page; the others stay in the section's CSV. Sections
// not listed show every column.
var packColumns = map[string][]string{
	"token-inventory/tokens":             {"token_id", "label", "state", "created", "expires", "last_used"},
	"token-usage/most_used":              {"token_id", "label", "state", "uses_observed", "days_used", "last_use"},
	"token-usage/never_used":             {"token_id", "label", "state", "created", "created_by", "expires"},
	"stale-tokens/stale":                 {"token_id", "label", "reason", "created_by", "last_used", "days_since_last_use"},
	"expiring-tokens/expiring":           {"token_id", "label", "expires", "days_left", "created_by"},
	"expiring-tokens/never_expire":       {"token_id", "label", "created", "age_days", "last_used"},
	"token-lifecycle/tokens":             {"token_id", "label", "state", "created", "created_by", "revocations", "deleted_at", "active_days"},
	"token-lifecycle/timeline":           {"token_id", "label", "at", "event", "actor"},
	"admin-activity/per_actor":           {"actor", "actions", "created", "updated", "revoked", "restored", "deleted", "settings_changed", "last_action"},
	"admin-activity/per_day":             {"day", "actions", "actors", "created", "updated", "revoked", "deleted", "settings_changed"},
	"admin-activity/token_events":        {"at", "action", "actor", "token_id", "label"},
	"policy-findings/findings":           {"severity", "at", "subject", "actor", "detail"},
	"collection-coverage/reconciliation": {"span_from", "span_to", "api_reported", "stored", "difference", "late"},
	"collection-coverage/summary":        {"polls", "failed_polls", "first_collected", "last_collected"},
	"admin-activity/quick_create_delete": {"token_id", "label", "actor", "deleted_at", "minutes_alive"},
}

// nullText is what a pack shows for NULL in a column: what the absence
// means there.
func nullText(col string) string {
	switch col {
	case "expires":
		return "never"
	case "last_used", "first_used", "last_use", "first_use":
		return "never used"
	case "max_active_tokens":
		return "no limit"
	case "revoked", "deleted_at":
		return "no"
	}
	return "–"
}

// unknownWhenEmpty says whether an empty string in a column is a value the
// collected data cannot know (an actor or label from before collection).
func unknownWhenEmpty(col string) bool {
	switch col {
	case "label", "actor", "created_by", "deleted_by", "revoked_by":
		return true
	}
	return false
}

// packCell is the text a pack shows for one value.
func packCell(c queries.Column, v any) (text string, null bool) {
	if v == nil {
		return nullText(c.Name), true
	}
	s := cell(c, v, "")
	switch {
	case s == "" && unknownWhenEmpty(c.Name):
		return Unknown, true
	case c.Name == "detail" && strings.HasPrefix(s, `"" `):
		// Details quote a token's label; an unknown one would read `""`.
		return "label " + Unknown + s[2:], false
	case (c.Name == "token_id" || c.Name == "subject") && len(s) == 32 && isHex(s):
		return s[:8] + "…", false // the CSV has the full id
	}
	return s, false
}

func isHex(s string) bool {
	for _, r := range s {
		if !strings.ContainsRune("0123456789abcdef", r) {
			return false
		}
	}
	return true
}

// shownColumns returns the indexes of t's columns that a pack shows.
func shownColumns(report string, t *queries.Table) []int {
	names, ok := packColumns[report+"/"+t.Section.Name]
	var out []int
	if !ok {
		for i := range t.Columns {
			out = append(out, i)
		}
		return out
	}
	for _, n := range names {
		if i := t.Column(n); i >= 0 {
			out = append(out, i)
		}
	}
	return out
}
