package falcontest

import (
	"cmp"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/tokentrail/tokentrail/falcon/falcontest/fql"
)

// eventRec adapts an exported AuditEvent to fql.Record for the reference implementation.
type eventRec AuditEvent

func (r eventRec) Str(f int) string {
	switch f {
	case 0:
		return r.Action
	case 2:
		return r.TokenID
	}
	return ""
}

func (r eventRec) Time(f int) (time.Time, bool) { return r.Timestamp, f == 1 }

// refAuditQuery answers a query by brute force over every visible event.
func refAuditQuery(t *testing.T, evs []AuditEvent, filter, sort string) []string {
	t.Helper()
	flt, err := fql.ParseAndCompile(filter, auditSchema, fql.Options{})
	if err != nil {
		t.Fatal(err)
	}
	keys, err := fql.ParseSort(sort)
	if err != nil {
		t.Fatal(err)
	}
	if len(keys) == 0 {
		keys = []fql.SortKey{{Field: "timestamp"}}
	}
	var out []AuditEvent
	for _, ev := range evs {
		if flt.Match(eventRec(ev)) {
			out = append(out, ev)
		}
	}
	slices.SortFunc(out, func(a, b AuditEvent) int {
		for _, k := range keys {
			var c int
			switch k.Field {
			case "timestamp":
				c = a.Timestamp.Compare(b.Timestamp)
			case "action":
				c = strings.Compare(a.Action, b.Action)
			case "token_id":
				c = strings.Compare(a.TokenID, b.TokenID)
			}
			if k.Desc {
				c = -c
			}
			if c != 0 {
				return c
			}
		}
		return strings.Compare(a.ID, b.ID)
	})
	ids := make([]string, len(out))
	for i, ev := range out {
		ids[i] = ev.ID
	}
	return ids
}

// pageAll walks every page of a query.
func pageAll(t *testing.T, c *caller, path, filter, sort string, limit int) (ids []string, total int) {
	t.Helper()
	for offset := 0; ; offset += limit {
		r := c.get(path, q("filter", filter, "sort", sort, "limit", strconv.Itoa(limit), "offset", strconv.Itoa(offset))).want(t, http.StatusOK)
		page := r.ids(t)
		total = r.Body.Meta.Pagination.Total
		if p := r.Body.Meta.Pagination; p.Offset != offset || p.Limit != limit {
			t.Fatalf("pagination %+v at offset %d", p, offset)
		}
		ids = append(ids, page...)
		if len(page) == 0 || offset+len(page) >= total {
			return ids, total
		}
		if len(page) != limit {
			t.Fatalf("short page (%d) at offset %d of %d", len(page), offset, total)
		}
	}
}

func TestAuditQueryMatchesReference(t *testing.T) {
	clock := NewClock(t0)
	srv := startServer(t, Config{Seed: 11, Clock: clock, OffsetCap: -1,
		Tenants: []TenantConfig{{CID: strings.Repeat("e", 32), Tokens: 60, Events: 8000, Ties: 1600, Span: 72 * time.Hour}}})
	tn := srv.Emulator().Tenants()[0]
	c := login(t, srv, tn)
	evs := tn.AuditEvents(true)

	// The biggest tie group, a token with a long history, and window bounds inside the data.
	groups := map[time.Time]int{}
	for _, ev := range evs {
		groups[ev.Timestamp]++
	}
	var burst time.Time
	for ts, n := range groups {
		if n > groups[burst] {
			burst = ts
		}
	}
	if groups[burst] < 1600 {
		t.Fatalf("largest tie group has %d events, want ≥ 1600", groups[burst])
	}
	perToken := map[string]int{}
	busy := ""
	for _, ev := range evs {
		if ev.TokenID != "" {
			if perToken[ev.TokenID]++; perToken[ev.TokenID] > perToken[busy] {
				busy = ev.TokenID
			}
		}
	}
	ts := func(t time.Time) string { return t.UTC().Format(time.RFC3339) }
	lo, hi := evs[len(evs)/5].Timestamp, evs[len(evs)*3/5].Timestamp

	filters := []string{
		"",
		"timestamp:>='" + ts(lo) + "'+timestamp:<'" + ts(hi) + "'",
		"timestamp:>='" + ts(burst) + "'+timestamp:<'" + ts(burst.Add(time.Hour)) + "'",
		"timestamp:>'" + ts(burst) + "'",
		"timestamp:<='" + ts(burst) + "'",
		"timestamp:'" + ts(burst) + "'",
		"timestamp:!'" + ts(burst) + "'+timestamp:>='" + ts(lo) + "'",
		"action:'token_create'",
		"action:['token_revoke','token_restore']+timestamp:>='" + ts(lo) + "'",
		"token_id:'" + busy + "'",
		"timestamp:<'" + ts(lo) + "',action:'customer_settings_update'",
		"action:~'REVOKE'+timestamp:>='" + lo.Format("2006-01-02") + "'",
		"action:*'token_re*'",
	}
	sorts := []string{"", "timestamp.asc", "timestamp.desc", "timestamp|desc", "action.desc", "token_id|asc", "action.asc,timestamp.desc"}
	for i, f := range filters {
		// Every filter with three sorts, every sort with several filters; pages smaller than the burst.
		for _, s := range []string{sorts[i%len(sorts)], sorts[(i+3)%len(sorts)], "timestamp.desc"} {
			want := refAuditQuery(t, evs, f, s)
			got, total := pageAll(t, c, pAuditQ, f, s, 700)
			if total != len(want) || !slices.Equal(got, want) {
				t.Errorf("filter %q sort %q: got %d ids (total %d), want %d", f, s, len(got), total, len(want))
			}
		}
	}
	if t.Failed() {
		return
	}
	// An offset inside the tie group, descending: the group's own order is by id ascending.
	r := c.get(pAuditQ, q("filter", "timestamp:'"+ts(burst)+"'", "sort", "timestamp.desc", "offset", "1234", "limit", "3")).want(t, http.StatusOK)
	want := refAuditQuery(t, evs, "timestamp:'"+ts(burst)+"'", "")[1234:1237]
	if got := r.ids(t); !slices.Equal(got, want) {
		t.Fatalf("page inside the tie group: %v, want %v", got, want)
	}
	// Past the end: empty page, total kept.
	r = c.get(pAuditQ, q("offset", strconv.Itoa(len(evs)+5))).want(t, http.StatusOK)
	if len(r.ids(t)) != 0 || r.Body.Meta.Pagination.Total != len(evs) {
		t.Fatalf("past the end: %s", r.Raw)
	}
	// audit_events_read returns the same events as Tenant.AuditEvents.
	byID := map[string]AuditEvent{}
	for _, ev := range evs {
		byID[ev.ID] = ev
	}
	ids := refAuditQuery(t, evs, "token_id:'"+busy+"'", "")
	for _, got := range c.get(pAudit, q("ids", strings.Join(ids, ","))).want(t, http.StatusOK).events(t) {
		ev := byID[got.ID]
		if got.Action != ev.Action || got.Actor != ev.Actor || got.Description != ev.Description || got.TokenID != busy ||
			got.Timestamp != ts(ev.Timestamp) {
			t.Fatalf("read %+v, want %+v", got, ev)
		}
	}
}

func TestGreaterActsAsGreaterEqual(t *testing.T) {
	srv := startServer(t, Config{Seed: 5, OffsetCap: -1, Tenants: []TenantConfig{{CID: strings.Repeat("e", 32), Events: 3000, Ties: 300}}})
	tn := srv.Emulator().Tenants()[0]
	c := login(t, srv, tn)
	evs := tn.AuditEvents(true)
	at := evs[len(evs)/2].Timestamp.UTC().Format(time.RFC3339)
	filter := "timestamp:>'" + at + "'"
	strict, _ := pageAll(t, c, pAuditQ, filter, "timestamp.asc", 1000)
	inclusive := refAuditQuery(t, evs, "timestamp:>='"+at+"'", "")
	srv.Emulator().SetFaults(Faults{GreaterActsAsGreaterEqual: true})
	loose, _ := pageAll(t, c, pAuditQ, filter, "timestamp.asc", 1000)
	if len(strict) >= len(loose) || !slices.Equal(loose, inclusive) {
		t.Fatalf("'>' gave %d, with the fault %d, '>=' gives %d", len(strict), len(loose), len(inclusive))
	}
}

func TestPaging(t *testing.T) {
	srv := startServer(t, Config{Tenants: []TenantConfig{{CID: strings.Repeat("e", 32), Tokens: 120, Events: 11000}}})
	c := login(t, srv, srv.Emulator().Tenants()[0])
	r := c.get(pTokensQ, nil).want(t, http.StatusOK)
	if p := r.Body.Meta.Pagination; len(r.ids(t)) != 50 || p.Limit != 50 || p.Offset != 0 || p.Total != 120 {
		t.Fatalf("default page: %d ids, %+v", len(r.ids(t)), p)
	}
	r = c.get(pTokensQ, q("offset", "100", "limit", "50")).want(t, http.StatusOK)
	if p := r.Body.Meta.Pagination; len(r.ids(t)) != 20 || p.Offset != 100 {
		t.Fatalf("last page: %d ids, %+v", len(r.ids(t)), p)
	}
	for _, bad := range [][]string{{"limit", "0"}, {"limit", "1001"}, {"limit", "ten"}, {"offset", "-1"}, {"offset", "x"}} {
		c.get(pAuditQ, q(bad...)).wantError(t, http.StatusBadRequest, bad[0])
	}
	c.get(pAuditQ, q("limit", "1000", "offset", "9000")).want(t, http.StatusOK)
	c.get(pAuditQ, q("limit", "100", "offset", "10000")).wantError(t, http.StatusBadRequest,
		"offset 10000 and limit 100 are invalid; offset + limit must be less than or equal to 10000")
	c.get(pTokensQ, q("limit", "2", "offset", "9999")).wantError(t, http.StatusBadRequest,
		"offset 9999 and limit 2 are invalid; offset + limit must be less than or equal to 10000")
	// The exact body of contract §4.
	r = c.get(pAuditQ, q("limit", "100", "offset", "10000"))
	if string(r.Body.Resources) != "null" || len(r.errors(t)) != 1 {
		t.Fatalf("cap body %s", r.Raw)
	}

	for _, tc := range []struct {
		cfg  Config
		path string
		q    []string
		want int
	}{
		{Config{OffsetCap: 500}, pAuditQ, []string{"offset", "450", "limit", "100"}, http.StatusBadRequest},
		{Config{OffsetCap: -1}, pAuditQ, []string{"offset", "10500", "limit", "100"}, http.StatusOK},
		{Config{ClampLimit: true}, pAuditQ, []string{"limit", "5000"}, http.StatusOK},
	} {
		tc.cfg.Tenants = []TenantConfig{{CID: strings.Repeat("e", 32), Events: 11000}}
		s := startServer(t, tc.cfg)
		r := login(t, s, s.Emulator().Tenants()[0]).get(tc.path, q(tc.q...)).want(t, tc.want)
		if tc.cfg.OffsetCap == 500 {
			r.wantError(t, http.StatusBadRequest, "must be less than or equal to 500")
		}
		if tc.cfg.ClampLimit && (len(r.ids(t)) != 1000 || r.Body.Meta.Pagination.Limit != 1000) {
			t.Fatalf("clamped: %d ids", len(r.ids(t)))
		}
		if tc.cfg.OffsetCap == -1 && len(r.ids(t)) != 100 {
			t.Fatalf("uncapped: %d ids", len(r.ids(t)))
		}
	}

	next := startServer(t, Config{NextOffsetInPagination: true, Tenants: []TenantConfig{{CID: strings.Repeat("e", 32), Tokens: 30}}})
	nc := login(t, next, next.Emulator().Tenants()[0])
	if p := nc.get(pTokensQ, q("offset", "10", "limit", "15")).Body.Meta.Pagination; p.Offset != 25 {
		t.Fatalf("next offset %+v", p)
	}
	if p := nc.get(pTokensQ, q("offset", "25", "limit", "15")).Body.Meta.Pagination; p.Offset != 30 {
		t.Fatalf("next offset on the short last page %+v", p)
	}
}

func TestFilterErrorsOverHTTP(t *testing.T) {
	srv := startServer(t, Config{Tenants: []TenantConfig{{CID: strings.Repeat("e", 32), Tokens: 5, Events: 20}}})
	c := login(t, srv, srv.Emulator().Tenants()[0])
	for _, tc := range []struct{ path, filter, sort, msg string }{
		{pAuditQ, "action:'token_create", "", "unterminated string"},
		{pAuditQ, "actor:'x'", "", "unknown property"},
		{pAuditQ, "timestamp:>'now-30d'", "", "relative time"},
		{pAuditQ, "timestamp:>='2025-01-01T00:00:00 01:00'", "", "invalid timestamp"}, // '+' sent unencoded
		{pAuditQ, strings.Repeat("action:'a'+", 20) + "action:'a'", "", "too many properties"},
		{pAuditQ, "action:>['a']", "", "does not take a list"},
		{pAuditQ, "", "actor.asc", "unknown field"},
		{pAuditQ, "", "timestamp.sideways", "direction"},
		{pTokensQ, "status:valid", "", "unquoted value"},
		{pTokensQ, "status:'valid')", "", "unexpected"},
		{pTokensQ, "label:~null", "", "does not take null"},
		{pTokensQ, "", "value.asc", "unknown field"},
	} {
		c.get(tc.path, q("filter", tc.filter, "sort", tc.sort)).wantError(t, http.StatusBadRequest, tc.msg)
	}
	// An unencoded '+' between statements is a space, which reads as AND.
	req, _ := http.NewRequest(http.MethodGet, srv.URL+pTokensQ+"?filter=status:'valid'+type:'customer_managed'", nil)
	req.Header.Set("Authorization", "Bearer "+c.bearer)
	resp, err := srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("space as AND: %d", resp.StatusCode)
	}
}

type tokenStateRec TokenState

func (r tokenStateRec) Str(f int) string {
	return [...]string{r.Status, r.Label, r.Type}[f]
}

func (r tokenStateRec) Time(f int) (time.Time, bool) {
	var v *time.Time
	switch f {
	case 3:
		return r.CreatedTimestamp, true
	case 4:
		v = r.ExpiresTimestamp
	case 5:
		v = r.LastUsedTimestamp
	}
	if v == nil {
		return time.Time{}, false
	}
	return *v, true
}

func TestTokensQueryMatchesReference(t *testing.T) {
	clock := NewClock(t0)
	srv := startServer(t, Config{Seed: 9, Clock: clock, Tenants: []TenantConfig{{CID: strings.Repeat("e", 32), Tokens: 400, Events: 3000}}})
	tn := srv.Emulator().Tenants()[0]
	c := login(t, srv, tn)
	// Equal created timestamps for the id tie-break, and labels for the text operators.
	for _, l := range []string{"Linux prod web", "linux-dev", "LINUX staging", "it's windows", "Windows/servers"} {
		c.createToken(l, nil)
	}
	toks := tn.Tokens()
	cut := toks[len(toks)/2].CreatedTimestamp.UTC().Format(time.RFC3339)
	filters := []string{
		"", "status:'valid'", "status:!'valid'", "label:*'*linux*'", "label:~'linux'", "label:!~'linux'+status:'revoked'",
		"label:'it\\'s windows'", "label:*'windows/*'", "type:'customer_managed'", "expires_timestamp:null", "last_used_timestamp:!null",
		"created_timestamp:>='" + cut + "'", "created_timestamp:<'" + cut + "',status:'revoked'",
		"expires_timestamp:>'" + t0.Format("2006-01-02") + "'", "last_used_timestamp:<='" + cut + "'",
	}
	sorts := []string{"", "created_timestamp.desc", "label.asc", "status|desc", "type.asc", "expires_timestamp.asc",
		"expires_timestamp.desc", "last_used_timestamp|desc", "status.asc,created_timestamp.desc"}
	for _, f := range filters {
		flt, err := fql.ParseAndCompile(f, tokenSchema, fql.Options{})
		if err != nil {
			t.Fatal(err)
		}
		for _, s := range sorts {
			keys, _ := fql.ParseSort(cmp.Or(s, "created_timestamp.asc"))
			var sk []sortKey
			for _, k := range keys {
				sk = append(sk, sortKey{field: tokenSchema.Index(k.Field), desc: k.Desc})
			}
			var want []string
			var recs []TokenState
			for _, st := range toks {
				if flt.Match(tokenStateRec(st)) {
					recs = append(recs, st)
				}
			}
			slices.SortFunc(recs, func(a, b TokenState) int {
				return cmp.Or(compareRecords(tokenSchema, sk, tokenStateRec(a), tokenStateRec(b)), strings.Compare(a.ID, b.ID))
			})
			for _, st := range recs {
				want = append(want, st.ID)
			}
			got, total := pageAll(t, c, pTokensQ, f, s, 150)
			if total != len(want) || !slices.Equal(got, want) {
				t.Errorf("filter %q sort %q: got %d (total %d), want %d", f, s, len(got), total, len(want))
			}
		}
	}
	// Unset timestamps come first whatever the direction.
	for _, s := range []string{"expires_timestamp.asc", "expires_timestamp.desc"} {
		ids := c.get(pTokensQ, q("sort", s, "limit", "1")).ids(t)
		if st, _ := tn.Token(ids[0]); st.ExpiresTimestamp != nil {
			t.Errorf("%s: first token has an expiry", s)
		}
	}
}

func ExampleEmulator_Tenant() {
	e, _ := New(Config{Seed: 1, Tenants: []TenantConfig{{CID: "0123456789abcdef0123456789abcdef", Tokens: 3, Events: 10}}})
	t := e.Tenant("0123456789ABCDEF0123456789ABCDEF")
	fmt.Println(t.Region(), len(t.Tokens()), t.AuditEventCount())
	// Output: us-1 3 10
}
