package falcon

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

type opCase struct {
	name     string
	statuses []int // error statuses of the contract (401 added for all)
	run      func(ctx context.Context, c *Client) error
}

func allOps() []opCase {
	id := hexID(1)
	return []opCase{
		{"tokens_query", []int{400, 403, 429, 500}, func(ctx context.Context, c *Client) error {
			_, err := c.QueryTokens(ctx, Query{})
			return err
		}},
		{"tokens_read", []int{400, 403, 429, 500}, func(ctx context.Context, c *Client) error {
			_, err := c.GetTokens(ctx, []string{id})
			return err
		}},
		{"tokens_create", []int{400, 403, 409, 429, 500}, func(ctx context.Context, c *Client) error {
			_, err := c.CreateToken(ctx, TokenCreate{Label: "x"})
			return err
		}},
		{"tokens_update", []int{400, 403, 404, 429, 500}, func(ctx context.Context, c *Client) error {
			_, err := c.UpdateTokens(ctx, []string{id}, TokenPatch{Revoked: Ptr(true)})
			return err
		}},
		{"tokens_delete", []int{400, 403, 429, 500}, func(ctx context.Context, c *Client) error {
			return c.DeleteTokens(ctx, []string{id})
		}},
		{"audit_events_query", []int{400, 403, 429, 500}, func(ctx context.Context, c *Client) error {
			_, err := c.QueryAuditEvents(ctx, Query{})
			return err
		}},
		{"audit_events_read", []int{400, 403, 429, 500}, func(ctx context.Context, c *Client) error {
			_, err := c.GetAuditEvents(ctx, []string{id})
			return err
		}},
		{"customer_settings_read", []int{400, 403, 429, 500}, func(ctx context.Context, c *Client) error {
			_, err := c.GetCustomerSettings(ctx)
			return err
		}},
		{"customer_settings_update", []int{400, 403, 404, 429, 500}, func(ctx context.Context, c *Client) error {
			_, err := c.UpdateCustomerSettings(ctx, SettingsPatch{TokensRequired: Ptr(false)})
			return err
		}},
	}
}

func TestErrorStatusesOfEveryOperation(t *testing.T) {
	sentinel := map[int]error{400: ErrBadRequest, 401: ErrUnauthorized, 403: ErrForbidden, 404: ErrNotFound,
		409: ErrConflict, 429: ErrRateLimited, 500: ErrServer, 502: ErrServer, 503: ErrServer}
	for _, op := range allOps() {
		for _, status := range append([]int{401, 502, 503}, op.statuses...) {
			t.Run(fmt.Sprintf("%s/%d", op.name, status), func(t *testing.T) {
				msg := fmt.Sprintf("message for %d", status)
				f := newFake(t, func(w http.ResponseWriter, r *http.Request) {
					if status == 404 {
						writeEnv(w, 404, `{"meta":{"query_time":0.1,"trace_id":"b"},"resources":["`+hexID(1)+`"],"errors":[{"code":404,"message":"`+msg+`"}]}`)
						return
					}
					writeEnv(w, status, errBody(status, msg))
				})
				c := f.client(func(c *Config) { c.MaxRetries = 2 })
				err := op.run(context.Background(), c)
				if !errors.Is(err, sentinel[status]) {
					t.Fatalf("got %v, want %v", err, sentinel[status])
				}
				var apiErr *APIError
				if !errors.As(err, &apiErr) {
					t.Fatalf("%T is not *APIError", err)
				}
				if apiErr.Operation != op.name || apiErr.StatusCode != status ||
					apiErr.TraceID != fmt.Sprintf("trace-%d", status) ||
					len(apiErr.Errors) != 1 || apiErr.Errors[0].Message != msg || apiErr.Errors[0].Code != status {
					t.Errorf("APIError %+v", apiErr)
				}
				if status == 404 && !slices.Equal(apiErr.Resources, []string{hexID(1)}) {
					t.Errorf("404 resources %v", apiErr.Resources)
				}
				s := err.Error()
				for _, part := range []string{op.name, fmt.Sprint(status), msg, apiErr.TraceID} {
					if !strings.Contains(s, part) {
						t.Errorf("Error() %q lacks %q", s, part)
					}
				}
				want := 1
				switch {
				case status == 401:
					want = 2 // refresh once, retry once
				case status == 429 || status >= 500:
					want = 3 // MaxRetries 2
				}
				if n := len(f.requests()); n != want {
					t.Errorf("%d requests, want %d", n, want)
				}
			})
		}
	}
}

func TestNotFoundIsNotAnErrorForReadsAndDelete(t *testing.T) {
	f := newFake(t, func(w http.ResponseWriter, r *http.Request) {
		writeEnv(w, 404, `{"meta":{"query_time":0.1,"trace_id":"b"},"resources":["`+hexID(1)+`"],"errors":[{"code":404,"message":"not found"}]}`)
	})
	c := f.client(nil)
	ctx := context.Background()
	toks, err := c.GetTokens(ctx, []string{hexID(1)})
	if err != nil || len(toks) != 0 {
		t.Errorf("tokens_read 404: %v %v", toks, err)
	}
	evs, err := c.GetAuditEvents(ctx, []string{hexID(1)})
	if err != nil || len(evs) != 0 {
		t.Errorf("audit_events_read 404: %v %v", evs, err)
	}
	if err := c.DeleteTokens(ctx, []string{hexID(1)}); err != nil {
		t.Errorf("tokens_delete 404 = already gone: %v", err)
	}
}

func TestUnreadableErrorBodyKeepsStatusAndTrace(t *testing.T) {
	f := newFake(t, func(w http.ResponseWriter, r *http.Request) {
		hijackWrite(t, w, "HTTP/1.1 403 Forbidden\r\nX-Cs-Traceid: tr-403\r\nContent-Type: application/json\r\nContent-Length: 200\r\n\r\n{\"meta\":{\"trace")
	})
	c := f.client(nil)
	_, err := c.GetCustomerSettings(context.Background())
	var apiErr *APIError
	if !errors.As(err, &apiErr) || apiErr.StatusCode != 403 || apiErr.TraceID != "tr-403" || !errors.Is(err, ErrForbidden) {
		t.Fatalf("got %v", err)
	}
	if n := len(f.requests()); n != 1 {
		t.Errorf("%d requests; a 403 is not retried", n)
	}

	f = newFake(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-CS-TRACEID", "tr-html")
		w.WriteHeader(502)
		_, _ = w.Write([]byte("<html>bad gateway</html>"))
	})
	c = f.client(nil)
	_, err = c.GetCustomerSettings(context.Background())
	if !errors.As(err, &apiErr) || apiErr.StatusCode != 502 || apiErr.TraceID != "tr-html" || len(apiErr.Errors) != 0 {
		t.Fatalf("got %v", err)
	}
	if n := len(f.requests()); n != 4 {
		t.Errorf("%d requests, want 4 (502 retried)", n)
	}
}

func TestTruncatedAndInvalidBodiesRetried(t *testing.T) {
	bodies := map[string]func(t *testing.T, w http.ResponseWriter){
		"truncated": func(t *testing.T, w http.ResponseWriter) {
			hijackWrite(t, w, "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 500\r\n\r\n{\"meta\":{\"query_time\":0.1},\"resources\":[{\"max_active")
		},
		"invalid json": func(t *testing.T, w http.ResponseWriter) {
			writeEnv(w, 200, `{"meta":{"query_time":0.1},"resources":[{"max_active_tokens":`)
		},
		"empty": func(t *testing.T, w http.ResponseWriter) { writeEnv(w, 200, "") },
		"reset": func(t *testing.T, w http.ResponseWriter) {
			hj, _ := w.(http.Hijacker)
			conn, _, err := hj.Hijack()
			if err != nil {
				t.Error(err)
				return
			}
			if tc, ok := conn.(*net.TCPConn); ok {
				_ = tc.SetLinger(0) // RST instead of FIN
			}
			_ = conn.Close()
		},
	}
	for name, bad := range bodies {
		t.Run(name, func(t *testing.T) {
			var calls atomic.Int32
			f := newFake(t, func(w http.ResponseWriter, r *http.Request) {
				if calls.Add(1) <= 2 {
					bad(t, w)
					return
				}
				settingsOK(w, r)
			})
			c := f.client(nil)
			s, err := c.GetCustomerSettings(context.Background())
			if err != nil {
				t.Fatalf("must be retried, got %v", err)
			}
			if s.MaxActiveTokens == nil || *s.MaxActiveTokens != 50 || !s.TokensRequired {
				t.Errorf("settings %+v", s)
			}
			if calls.Load() < 3 {
				t.Errorf("%d calls", calls.Load())
			}

			// Always bad: reported after the bounded tries, never dropped.
			f2 := newFake(t, func(w http.ResponseWriter, r *http.Request) { bad(t, w) })
			c2 := f2.client(func(c *Config) { c.MaxRetries = 2 })
			if _, err := c2.QueryTokens(context.Background(), Query{}); err == nil {
				t.Fatal("no error")
			} else if name != "reset" && !errors.Is(err, ErrInvalidResponse) {
				t.Errorf("got %v, want ErrInvalidResponse", err)
			}
			if n := len(f2.requests()); n < 3 {
				t.Errorf("%d requests, want >= 3", n)
			}

			// Create is not idempotent: an ambiguous outcome is reported, not retried.
			f3 := newFake(t, func(w http.ResponseWriter, r *http.Request) { bad(t, w) })
			c3 := f3.client(nil)
			if _, err := c3.CreateToken(context.Background(), TokenCreate{Label: "x"}); err == nil {
				t.Fatal("create: no error")
			}
			if n := len(f3.requests()); n != 1 {
				t.Errorf("create: %d requests, want 1", n)
			}
		})
	}
}

func TestWrongShapeReportedNotRetried(t *testing.T) {
	f := newFake(t, func(w http.ResponseWriter, r *http.Request) {
		writeEnv(w, 200, `{"meta":{"query_time":0.1,"trace_id":"shape"},"resources":{"not":"a list"},"errors":[]}`)
	})
	c := f.client(nil)
	_, err := c.QueryTokens(context.Background(), Query{})
	if !errors.Is(err, ErrInvalidResponse) || !strings.Contains(err.Error(), "shape") {
		t.Fatalf("got %v", err)
	}
	if n := len(f.requests()); n != 1 {
		t.Errorf("%d requests", n)
	}
	f = newFake(t, func(w http.ResponseWriter, r *http.Request) {
		writeEnv(w, 200, ok(`[{"id":"`+hexID(1)+`","created_timestamp":"yesterday"}]`))
	})
	c = f.client(nil)
	if _, err := c.GetTokens(context.Background(), []string{hexID(1)}); !errors.Is(err, ErrInvalidResponse) {
		t.Fatalf("bad timestamp: %v", err)
	}
}

// tokenStore answers tokens_read from a set of known IDs, in reverse order.
func tokenStore(known func(id string) bool, maxIDs int, tooLong int) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		ids := r.URL.Query()["ids"]
		if len(ids) > maxIDs {
			writeEnv(w, tooLong, errBody(tooLong, "too many ids"))
			return
		}
		var objs []string
		for i := len(ids) - 1; i >= 0; i-- {
			if known(ids[i]) {
				if strings.Contains(r.URL.Path, "audit") {
					objs = append(objs, eventJSON(ids[i]))
				} else {
					objs = append(objs, tokenJSON(ids[i]))
				}
			}
		}
		writeEnv(w, 200, ok(joinObjects(objs)))
	}
}

func TestReadSplitsOrdersAndOmitsMissing(t *testing.T) {
	var ids []string
	for i := range 1200 {
		ids = append(ids, hexID(i))
	}
	known := func(id string) bool {
		var n int
		_, _ = fmt.Sscanf(id, "%x", &n)
		return n%7 != 0
	}
	f := newFake(t, tokenStore(known, 10000, 414))
	c := f.client(nil)
	// Duplicates are requested once.
	toks, err := c.GetTokens(context.Background(), append(ids, ids[5], ""))
	if err != nil {
		t.Fatal(err)
	}
	reqs := f.requests()
	var sizes []int
	for _, r := range reqs {
		sizes = append(sizes, len(r.query["ids"]))
		if strings.Contains(strings.Join(r.query["ids"], ""), ",") {
			t.Error("reads must use repeated ids keys, not CSV")
		}
	}
	if !slices.Equal(sizes, []int{500, 500, 200}) {
		t.Errorf("batch sizes %v", sizes)
	}
	var want []string
	for _, id := range ids {
		if known(id) {
			want = append(want, id)
		}
	}
	var got []string
	for _, tk := range toks {
		got = append(got, tk.ID)
	}
	if !slices.Equal(got, want) {
		t.Errorf("got %d tokens, want %d in request order", len(got), len(want))
	}
	missing := Missing(ids, toks)
	if len(missing) != len(ids)-len(want) || missing[0] != hexID(0) || missing[1] != hexID(7) {
		t.Errorf("missing %v", missing[:2])
	}

	// Audit events use the same path.
	f2 := newFake(t, tokenStore(known, 10000, 414))
	evs, err := f2.client(func(c *Config) { c.IDsPerRead = 100 }).GetAuditEvents(context.Background(), ids[:250])
	if err != nil || len(evs) != len(Missing(ids[:250], []AuditEvent{}))-len(Missing(ids[:250], evs)) {
		t.Fatalf("audit read: %d events, %v", len(evs), err)
	}
	if n := len(f2.requests()); n != 3 {
		t.Errorf("%d audit requests for 250 IDs at 100 per read", n)
	}
}

func TestReadHalvesBatchOn414And400(t *testing.T) {
	var ids []string
	for i := range 1000 {
		ids = append(ids, hexID(i))
	}
	all := func(string) bool { return true }

	f := newFake(t, tokenStore(all, 100, 414))
	c := f.client(nil)
	toks, err := c.GetTokens(context.Background(), ids)
	if err != nil || len(toks) != 1000 {
		t.Fatalf("%d tokens, %v", len(toks), err)
	}
	var sizes []int
	for _, r := range f.requests() {
		sizes = append(sizes, len(r.query["ids"]))
	}
	if !slices.Equal(sizes[:4], []int{500, 250, 125, 62}) {
		t.Errorf("sizes %v", sizes)
	}
	// The 414 size is remembered by the client.
	before := len(f.requests())
	if _, err := c.GetTokens(context.Background(), ids[:200]); err != nil {
		t.Fatal(err)
	}
	if first := f.requests()[before]; len(first.query["ids"]) != 62 {
		t.Errorf("next read started at %d IDs", len(first.query["ids"]))
	}

	// 400 on a long list: halved within the call.
	f = newFake(t, tokenStore(all, 100, 400))
	c = f.client(nil)
	if toks, err := c.GetTokens(context.Background(), ids); err != nil || len(toks) != 1000 {
		t.Fatalf("400: %d tokens, %v", len(toks), err)
	}
	// A 400 on a short list is a real bad request: reported at once.
	f = newFake(t, tokenStore(all, 10, 400))
	c = f.client(nil)
	_, err = c.GetTokens(context.Background(), ids[:40])
	if !errors.Is(err, ErrBadRequest) {
		t.Fatalf("got %v", err)
	}
	if n := len(f.requests()); n != 1 {
		t.Errorf("%d requests for a short bad list", n)
	}
	// Halving stops at 50 IDs for a 400.
	f = newFake(t, tokenStore(all, 10, 400))
	c = f.client(nil)
	if _, err := c.GetTokens(context.Background(), ids[:400]); !errors.Is(err, ErrBadRequest) {
		t.Fatalf("got %v", err)
	}
	sizes = nil
	for _, r := range f.requests() {
		sizes = append(sizes, len(r.query["ids"]))
	}
	if !slices.Equal(sizes, []int{400, 200, 100, 50}) {
		t.Errorf("sizes %v", sizes)
	}
}

func TestUpdateResponseShapes(t *testing.T) {
	ids := []string{hexID(1), hexID(2)}
	for _, legacy := range []bool{false, true} {
		f := newFake(t, func(w http.ResponseWriter, r *http.Request) {
			switch r.Method {
			case http.MethodPatch:
				got := strings.Split(r.URL.Query().Get("ids"), ",")
				if !slices.Equal(got, ids) || len(r.URL.Query()["ids"]) != 1 {
					t.Errorf("update ids must be CSV: %v", r.URL.Query()["ids"])
				}
				if legacy {
					writeEnv(w, 200, ok(`["`+ids[1]+`","`+ids[0]+`"]`))
				} else {
					writeEnv(w, 200, ok(`[`+tokenJSON(ids[1])+`,`+tokenJSON(ids[0])+`]`))
				}
			case http.MethodGet:
				tokenStore(func(string) bool { return true }, 1000, 414)(w, r)
			}
		})
		c := f.client(nil)
		toks, err := c.UpdateTokens(context.Background(), ids, TokenPatch{Label: Ptr("new")})
		if err != nil {
			t.Fatal(err)
		}
		if len(toks) != 2 || toks[0].ID != ids[0] || toks[1].ID != ids[1] || toks[0].Value.Reveal() != "secret-"+ids[0] {
			t.Errorf("legacy=%v: %+v", legacy, toks)
		}
		reqs := f.requests()
		if legacy != (len(reqs) == 2 && reqs[1].method == http.MethodGet) {
			t.Errorf("legacy=%v: %d requests", legacy, len(reqs))
		}
	}
}

func TestSettingsUpdateResponseShapes(t *testing.T) {
	for _, body := range []string{
		ok(`[{"max_active_tokens":7,"tokens_required":false}]`),
		ok(`["settings-id"]`),
		`{"meta":{"query_time":0.1,"trace_id":"x"},"errors":null}`,
	} {
		f := newFake(t, func(w http.ResponseWriter, r *http.Request) {
			if r.Method == http.MethodPatch {
				writeEnv(w, 200, body)
				return
			}
			writeEnv(w, 200, ok(`[{"max_active_tokens":7,"tokens_required":false}]`))
		})
		c := f.client(nil)
		s, err := c.UpdateCustomerSettings(context.Background(), SettingsPatch{TokensRequired: Ptr(false), MaxActiveTokens: Ptr[int64](7)})
		if err != nil || s.MaxActiveTokens == nil || *s.MaxActiveTokens != 7 || s.TokensRequired {
			t.Errorf("%s: %+v %v", body, s, err)
		}
		if got := string(f.requests()[0].body); got != `{"tokens_required":false,"max_active_tokens":7}` {
			t.Errorf("body %s", got)
		}
	}
}

func TestDeleteWithUnknownIDs(t *testing.T) {
	for _, listUnknown := range []bool{true, false} {
		var mu sync.Mutex
		known := map[string]bool{hexID(1): true, hexID(3): true}
		f := newFake(t, func(w http.ResponseWriter, r *http.Request) {
			mu.Lock()
			defer mu.Unlock()
			ids := strings.Split(r.URL.Query().Get("ids"), ",")
			var unknown []string
			for _, id := range ids {
				if !known[id] {
					unknown = append(unknown, id)
				}
			}
			if len(unknown) > 0 { // emulator semantics: change nothing
				res := "null"
				if listUnknown {
					b, _ := json.Marshal(unknown)
					res = string(b)
				}
				writeEnv(w, 404, `{"meta":{"query_time":0.1,"trace_id":"d"},"resources":`+res+`,"errors":[{"code":404,"message":"not found"}]}`)
				return
			}
			for _, id := range ids {
				delete(known, id)
			}
			writeEnv(w, 200, `{"meta":{"query_time":0.1,"trace_id":"d"}}`)
		})
		c := f.client(nil)
		if err := c.DeleteTokens(context.Background(), []string{hexID(1), hexID(2), hexID(3)}); err != nil {
			t.Fatal(err)
		}
		if len(known) != 0 {
			t.Errorf("listUnknown=%v: left behind %v", listUnknown, known)
		}
		var calls []string
		for _, r := range f.requests() {
			calls = append(calls, r.query.Get("ids"))
		}
		t.Logf("listUnknown=%v: %v", listUnknown, calls)
		want := 2
		if !listUnknown {
			want = 4
		}
		if len(calls) != want {
			t.Errorf("%d delete requests, want %d", len(calls), want)
		}
	}
}

func TestQueryParameters(t *testing.T) {
	f := newFake(t, func(w http.ResponseWriter, r *http.Request) {
		writeEnv(w, 200, page([]string{hexID(1)}, 0, 1, 1))
	})
	c := f.client(nil)
	ctx := context.Background()
	filter := `label:'O\'Brien'+created_timestamp:>='2025-01-01T00:00:00+01:00'`
	res, err := c.QueryTokens(ctx, Query{Filter: filter})
	if err != nil || len(res.IDs) != 1 || res.Total != 1 || res.Limit != 1000 {
		t.Fatalf("%+v %v", res, err)
	}
	if _, err := c.QueryAuditEvents(ctx, Query{Sort: "timestamp.desc", Offset: 9500, Limit: 1000}); err != nil {
		t.Fatal(err)
	}
	reqs := f.requests()
	q := reqs[0].query
	if q.Get("filter") != filter || q.Get("sort") != "created_timestamp.asc" || q.Get("limit") != "1000" || q.Get("offset") != "0" {
		t.Errorf("tokens_query %v", q)
	}
	if reqs[0].path != "/installation-tokens/queries/tokens/v1" {
		t.Errorf("path %s", reqs[0].path)
	}
	q = reqs[1].query
	if reqs[1].path != "/installation-tokens/queries/audit-events/v1" || q.Get("sort") != "timestamp.desc" ||
		q.Get("offset") != "9500" || q.Get("limit") != "500" || q.Has("filter") {
		t.Errorf("audit_events_query %s %v (limit must be cut to the cap)", reqs[1].path, q)
	}
	// Past the cap, or invalid: nothing is sent.
	if _, err := c.QueryTokens(ctx, Query{Offset: 10000, Limit: 1}); !errors.Is(err, ErrOffsetCap) {
		t.Errorf("offset 10000: %v", err)
	}
	if _, err := c.QueryTokens(ctx, Query{Limit: 1001}); !errors.Is(err, ErrInvalidArgument) {
		t.Errorf("limit 1001: %v", err)
	}
	if _, err := c.QueryTokens(ctx, Query{Offset: -1}); !errors.Is(err, ErrInvalidArgument) {
		t.Errorf("offset -1: %v", err)
	}
	if n := len(f.requests()); n != 2 {
		t.Errorf("%d requests; invalid queries must not be sent", n)
	}
	c2 := f.client(func(c *Config) { c.OffsetCap = -1 })
	if _, err := c2.QueryTokens(ctx, Query{Offset: 50000}); err != nil {
		t.Errorf("cap disabled: %v", err)
	}
}

func TestQueryRawEncoding(t *testing.T) {
	var raw string
	f := newFake(t, func(w http.ResponseWriter, r *http.Request) {
		raw = r.URL.RawQuery
		writeEnv(w, 200, page(nil, 0, 10, 0))
	})
	c := f.client(nil)
	if _, err := c.QueryTokens(context.Background(), Query{Filter: "status:'valid'+label:*'a b'"}); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(raw, "filter=status%3A%27valid%27%2Blabel%3A%2A%27a+b%27") {
		t.Errorf("raw query %q: + must be %%2B", raw)
	}
}

func TestEnvelopeTolerance(t *testing.T) {
	for _, body := range []string{
		`{"meta":{"query_time":0.1,"trace_id":"a","pagination":{"offset":0,"limit":10,"total":0}},"resources":[],"errors":[]}`,
		`{"meta":{"query_time":0.1,"trace_id":"a","pagination":{"offset":0,"limit":10,"total":0}},"resources":null,"errors":null}`,
		`{"meta":{"query_time":0.1,"trace_id":"a","pagination":{"offset":0,"limit":10,"total":0}}}`,
		`{"meta":{"query_time":0.1,"trace_id":"a","pagination":{"offset":0,"limit":10,"total":0},"writes":{"resources_affected":0}},"resources":[],"unknown":{"x":1}}`,
	} {
		f := newFake(t, func(w http.ResponseWriter, r *http.Request) { writeEnv(w, 200, body) })
		c := f.client(nil)
		res, err := c.QueryTokens(context.Background(), Query{})
		if err != nil || len(res.IDs) != 0 || res.Total != 0 {
			t.Errorf("%s: %+v %v", body, res, err)
		}
		toks, err := c.GetTokens(context.Background(), []string{hexID(1)})
		if err != nil || len(toks) != 0 {
			t.Errorf("%s: read %v %v", body, toks, err)
		}
	}
	// Errors null/absent on an error status: still a clean APIError.
	for _, body := range []string{
		`{"meta":{"query_time":0.1,"trace_id":"a"},"resources":null,"errors":null}`,
		`{"meta":{"query_time":0.1,"trace_id":"a"}}`,
	} {
		f := newFake(t, func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("X-CS-TRACEID", "")
			w.WriteHeader(400)
			_, _ = w.Write([]byte(body))
		})
		_, err := f.client(nil).QueryTokens(context.Background(), Query{})
		var apiErr *APIError
		if !errors.As(err, &apiErr) || apiErr.StatusCode != 400 || len(apiErr.Errors) != 0 || apiErr.TraceID != "a" {
			t.Errorf("%s: %v", body, err)
		}
	}
	// No pagination: Total unknown.
	f := newFake(t, func(w http.ResponseWriter, r *http.Request) { writeEnv(w, 200, ok(`["a"]`)) })
	if res, err := f.client(nil).QueryTokens(context.Background(), Query{}); err != nil || res.Total != -1 {
		t.Errorf("%+v %v", res, err)
	}
}

func TestCreateTokenBody(t *testing.T) {
	f := newFake(t, func(w http.ResponseWriter, r *http.Request) {
		writeEnv(w, 201, ok("["+tokenJSON(hexID(9))+"]"))
	})
	c := f.client(nil)
	ctx := context.Background()
	tok, err := c.CreateToken(ctx, TokenCreate{Label: "servers"})
	if err != nil || tok.ID != hexID(9) || tok.Value.Reveal() != "secret-"+hexID(9) {
		t.Fatalf("%+v %v", tok, err)
	}
	exp := time.Date(2026, 1, 2, 3, 4, 5, 0, time.FixedZone("x", 3600))
	if _, err := c.CreateToken(ctx, TokenCreate{Label: "", ExpiresTimestamp: &exp, Type: "other"}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.CreateToken(ctx, TokenCreate{Label: "z", ExpiresTimestamp: &time.Time{}}); err != nil {
		t.Fatal(err)
	}
	want := []string{
		`{"label":"servers","expires_timestamp":null,"type":"customer_managed"}`,
		`{"label":"","expires_timestamp":"2026-01-02T02:04:05Z","type":"other"}`,
		`{"label":"z","expires_timestamp":null,"type":"customer_managed"}`,
	}
	for i, r := range f.requests() {
		if string(r.body) != want[i] || r.method != http.MethodPost || r.path != "/installation-tokens/entities/tokens/v1" {
			t.Errorf("create %d: %s %s %s", i, r.method, r.path, r.body)
		}
	}
	// Empty resources on a 201 is reported.
	f2 := newFake(t, func(w http.ResponseWriter, r *http.Request) { writeEnv(w, 201, ok("[]")) })
	if _, err := f2.client(nil).CreateToken(ctx, TokenCreate{}); !errors.Is(err, ErrInvalidResponse) {
		t.Errorf("empty create response: %v", err)
	}
}

func TestPatchBodies(t *testing.T) {
	exp := time.Date(2027, 5, 6, 7, 8, 9, 0, time.UTC)
	cases := []struct {
		patch TokenPatch
		want  string
	}{
		{TokenPatch{Revoked: Ptr(false)}, `{"revoked":false}`},
		{TokenPatch{Revoked: Ptr(true)}, `{"revoked":true}`},
		{TokenPatch{Label: Ptr("n"), Expires: ClearTime()}, `{"label":"n","expires_timestamp":null}`},
		{TokenPatch{Expires: SetTime(exp)}, `{"expires_timestamp":"2027-05-06T07:08:09Z"}`},
		{TokenPatch{Expires: SetTime(time.Time{})}, `{"expires_timestamp":null}`},
		{TokenPatch{Label: Ptr("")}, `{"label":""}`},
	}
	for _, tc := range cases {
		b, err := json.Marshal(tc.patch)
		if err != nil || string(b) != tc.want {
			t.Errorf("%+v: %s %v, want %s", tc.patch, b, err, tc.want)
		}
	}
	if tm, sent := (TokenPatch{}).Expires.Get(); tm != nil || sent {
		t.Error("zero OptionalTime must leave the field alone")
	}
	if tm, sent := SetTime(exp).Get(); tm == nil || !sent || !tm.Equal(exp) {
		t.Error("SetTime.Get")
	}
	b, _ := json.Marshal(SettingsPatch{TokensRequired: Ptr(false)})
	if string(b) != `{"tokens_required":false}` {
		t.Errorf("settings patch %s", b)
	}
	// Empty patches and ID lists are rejected without a request.
	f := newFake(t, settingsOK)
	c := f.client(nil)
	ctx := context.Background()
	if _, err := c.UpdateTokens(ctx, []string{"a"}, TokenPatch{}); !errors.Is(err, ErrInvalidArgument) {
		t.Error(err)
	}
	if _, err := c.UpdateTokens(ctx, nil, TokenPatch{Revoked: Ptr(true)}); !errors.Is(err, ErrInvalidArgument) {
		t.Error(err)
	}
	if err := c.DeleteTokens(ctx, []string{""}); !errors.Is(err, ErrInvalidArgument) {
		t.Error(err)
	}
	if _, err := c.UpdateCustomerSettings(ctx, SettingsPatch{}); !errors.Is(err, ErrInvalidArgument) {
		t.Error(err)
	}
	if toks, err := c.GetTokens(ctx, nil); err != nil || len(toks) != 0 {
		t.Error(toks, err)
	}
	if n := len(f.requests()); n != 0 {
		t.Errorf("%d requests sent", n)
	}
}
