package falcon

import (
	"context"
	"errors"
	"net/http"
	"slices"
	"strconv"
	"testing"
)

// pagedAPI serves total IDs; pages are cut at short (a mid-stream short
// page) and meta.pagination.offset reports the *next* offset to make sure the
// client ignores it.
func pagedAPI(total, short int, emptyAt int) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		off, _ := strconv.Atoi(r.URL.Query().Get("offset"))
		lim, _ := strconv.Atoi(r.URL.Query().Get("limit"))
		n := min(lim, short, max(total-off, 0))
		if emptyAt >= 0 && off >= emptyAt {
			n = 0
		}
		ids := make([]string, 0, n)
		for i := off; i < off+n; i++ {
			ids = append(ids, hexID(i))
		}
		writeEnv(w, 200, page(ids, off+n, lim, int64(total)))
	}
}

func collect(t *testing.T, p *Pager) []string {
	t.Helper()
	var all []string
	for p.Next(context.Background()) {
		all = append(all, p.IDs()...)
	}
	return all
}

func TestPagerWalksShortPagesToTotal(t *testing.T) {
	f := newFake(t, pagedAPI(2500, 700, -1))
	c := f.client(nil)
	p := c.TokenPager(Query{Filter: "status:'valid'"})
	all := collect(t, p)
	if err := p.Err(); err != nil {
		t.Fatal(err)
	}
	if len(all) != 2500 || all[0] != hexID(0) || all[2499] != hexID(2499) {
		t.Fatalf("%d ids", len(all))
	}
	for i, id := range all {
		if id != hexID(i) {
			t.Fatalf("id %d = %s (duplicate or gap)", i, id)
		}
	}
	var offsets []string
	for _, r := range f.requests() {
		offsets = append(offsets, r.query.Get("offset"))
		if r.query.Get("filter") != "status:'valid'" || r.query.Get("limit") != "1000" {
			t.Errorf("query %v", r.query)
		}
	}
	if !slices.Equal(offsets, []string{"0", "700", "1400", "2100"}) {
		t.Errorf("offsets %v (no request after next >= total)", offsets)
	}
	if p.Total() != 2500 || p.Offset() != 2500 {
		t.Errorf("total %d offset %d", p.Total(), p.Offset())
	}
}

func TestPagerStopsOnEmptyPage(t *testing.T) {
	f := newFake(t, pagedAPI(5000, 1000, 2000))
	p := f.client(nil).AuditEventPager(Query{})
	all := collect(t, p)
	if len(all) != 2000 || p.Err() != nil {
		t.Errorf("%d ids, %v", len(all), p.Err())
	}
	if f.requests()[0].path != "/installation-tokens/queries/audit-events/v1" {
		t.Errorf("path %s", f.requests()[0].path)
	}
}

func TestPagerOffsetCap(t *testing.T) {
	for _, tc := range []struct {
		limit    int
		lastOff  string
		lastLim  string
		requests int
	}{{1000, "9000", "1000", 10}, {300, "9900", "100", 34}} {
		f := newFake(t, pagedAPI(25000, 1000, -1))
		c := f.client(func(c *Config) { c.PageLimit = tc.limit })
		p := c.TokenPager(Query{})
		all := collect(t, p)
		if !errors.Is(p.Err(), ErrOffsetCap) {
			t.Fatalf("limit %d: err %v", tc.limit, p.Err())
		}
		if len(all) != 10000 {
			t.Errorf("limit %d: %d ids before the cap", tc.limit, len(all))
		}
		reqs := f.requests()
		for _, r := range reqs {
			off, _ := strconv.Atoi(r.query.Get("offset"))
			lim, _ := strconv.Atoi(r.query.Get("limit"))
			if off+lim > 10000 {
				t.Errorf("requested offset %d + limit %d past the cap", off, lim)
			}
		}
		last := reqs[len(reqs)-1].query
		if len(reqs) != tc.requests || last.Get("offset") != tc.lastOff || last.Get("limit") != tc.lastLim {
			t.Errorf("limit %d: %d requests, last %v", tc.limit, len(reqs), last)
		}
	}
	// Exactly 10000 matches end normally.
	f := newFake(t, pagedAPI(10000, 1000, -1))
	p := f.client(nil).TokenPager(Query{})
	if all := collect(t, p); len(all) != 10000 || p.Err() != nil {
		t.Errorf("%d ids, %v", len(all), p.Err())
	}
}

func TestPagerPropagatesErrors(t *testing.T) {
	f := newFake(t, func(w http.ResponseWriter, r *http.Request) {
		writeEnv(w, 403, errBody(403, "access denied, authorization failed"))
	})
	p := f.client(nil).TokenPager(Query{})
	if p.Next(context.Background()) || !errors.Is(p.Err(), ErrForbidden) {
		t.Errorf("err %v", p.Err())
	}
	if p.Next(context.Background()) {
		t.Error("Next after error")
	}
	// A pager over any QueryFunc.
	calls := 0
	fn := func(_ context.Context, q Query) (QueryResult, error) {
		calls++
		if q.Offset >= 3 {
			return QueryResult{Offset: q.Offset, Total: -1}, nil
		}
		return QueryResult{IDs: []string{"x"}, Offset: q.Offset, Limit: q.Limit, Total: -1}, nil
	}
	p = NewPager(fn, Query{}, PagerConfig{})
	if all := collect(t, p); len(all) != 3 || calls != 4 || p.Err() != nil {
		t.Errorf("unknown total: %d ids in %d calls, %v", len(all), calls, p.Err())
	}
}
