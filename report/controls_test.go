package report

import (
	"strings"
	"testing"

	"github.com/tokentrail/tokentrail/queries"
)

// TestDefaultControls: the shipped mapping parses, covers every finding kind
// policy-findings produces, and claims no certification.
func TestDefaultControls(t *testing.T) {
	c := DefaultControls()
	r, err := queries.Lookup("policy-findings")
	if err != nil {
		t.Fatal(err)
	}
	sec, _ := r.Section("findings")
	for _, kind := range []string{"tokens_required_disabled", "active_tokens_near_limit", "token_without_expiry",
		"used_after_revocation", "deleted_without_revoke", "settings_changed"} {
		if !strings.Contains(sec.SQL, "'"+kind+"' AS finding") {
			t.Errorf("policy-findings no longer produces %s", kind)
		}
		if ctl, ok := c.lookup(kind); !ok || ctl.Objective == "" || ctl.Title == "" {
			t.Errorf("controls.json lacks %s", kind)
		}
	}
	if strings.Contains(strings.ToLower(string(defaultControls)), "certif") &&
		!strings.Contains(string(defaultControls), "not certifications") {
		t.Error("the default mapping must not claim a certification")
	}
	for _, bad := range []string{`{"version": 2, "controls": []}`, `{"version": 1, "controls": [{"finding": "a", "control": ""}]}`,
		`{"version": 1, "controls": [{"finding": "a", "control": "c", "fail_at": "high"}, {"finding": "a", "control": "c", "fail_at": "high"}]}`,
		`{"version": 1, "extra": true, "controls": []}`, `not json`} {
		if _, err := ParseControls([]byte(bad)); err == nil {
			t.Errorf("accepted %s", bad)
		}
	}
}

// A finding kind the mapping does not know still shows, and can fail.
func TestSummaryUnknownKind(t *testing.T) {
	r, _ := queries.Lookup("policy-findings")
	cols := []queries.Column{{Name: "severity"}, {Name: "finding"}}
	res := &queries.Result{Report: r, Tables: []queries.Table{{Section: &r.Sections[0], Columns: cols,
		Rows: [][]any{{"high", "brand_new_check"}}}}}
	s := Summarize([]*queries.Result{res}, &Controls{Version: 1})
	if len(s.Findings) != 1 || s.Findings[0].Finding != "brand_new_check" || s.Status != StatusFail {
		t.Errorf("summary %+v", s)
	}
}
