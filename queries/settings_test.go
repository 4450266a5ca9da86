package queries_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/tokentrail/tokentrail/internal/chtest"
	"github.com/tokentrail/tokentrail/queries/querytest"
)

// TestTenantSettings checks the settings in force and since when: the
// scenario turns tokens_required off on 2025-06-10 and lowers
// max_active_tokens from 20 to 8 on 2025-06-20; tenant other has a single
// collection, so its values hold since at least that one.
func TestTenantSettings(t *testing.T) {
	s := chtest.Start(t)
	_, conn := querytest.NewDatabase(t, s)
	if err := querytest.Load(context.Background(), conn, querytest.Scenario()); err != nil {
		t.Fatal(err)
	}
	type row struct{ value, since, first, last string }
	check := func(tenant string, want map[string]row) {
		t.Helper()
		got := runReport(t, conn, "tenant-settings", map[string]string{"tenant": tenant})["current"]
		if len(got) != len(want) {
			t.Fatalf("tenant %s: %d rows, want %d: %v", tenant, len(got), len(want), got)
		}
		for _, r := range got {
			w, ok := want[r["setting"].(string)]
			g := row{r["value"].(string), fmtVal(r["since"]), fmtVal(r["since_first_collection"]), fmtVal(r["last_collected"])}
			if !ok || g != w {
				t.Errorf("tenant %s %s = %+v, want %+v", tenant, r["setting"], g, w)
			}
		}
	}
	check(querytest.Tenant, map[string]row{
		"tokens_required":   {"false", "2025-06-10 09:00:00", "0", "2025-06-20 10:00:00"},
		"max_active_tokens": {"8", "2025-06-20 10:00:00", "0", "2025-06-20 10:00:00"},
	})
	check("other", map[string]row{
		"tokens_required":   {"false", "2025-03-01 08:00:00", "1", "2025-03-01 08:00:00"},
		"max_active_tokens": {"1", "2025-03-01 08:00:00", "1", "2025-03-01 08:00:00"},
	})
	if got := runReport(t, conn, "tenant-settings", map[string]string{"tenant": "nobody"})["current"]; len(got) != 0 {
		t.Errorf("a tenant without settings: %v", got)
	}
}

func fmtVal(v any) string {
	if t, ok := v.(time.Time); ok {
		return t.Format(time.DateTime)
	}
	return fmt.Sprint(v)
}
