package falcontest

import (
	"net/http"
	"testing"
	"time"
)

func TestTmpFallback(t *testing.T) {
	srv := startServer(t, bigTenant())
	c := login(t, srv, srv.Emulator().Tenants()[0])
	for _, qq := range [][]string{
		{"filter", "action:'token_create'", "sort", "timestamp.desc"},
		{"sort", "action.asc"},
		{"sort", "token_id.desc"},
		{"filter", "timestamp:>='2020-01-01'", "sort", "timestamp.desc", "offset", "5000", "limit", "1000"},
	} {
		start := time.Now()
		r := c.get(pAuditQ, q(qq...)).want(t, http.StatusOK)
		t.Logf("%v: total %d in %v", qq, r.Body.Meta.Pagination.Total, time.Since(start))
	}
}
