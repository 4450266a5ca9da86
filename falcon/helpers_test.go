package falcon

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tokentrail/tokentrail/internal/configtest"
)

// seen is one request as the fake server received it.
type seen struct {
	at     time.Time
	method string
	path   string
	query  url.Values
	header http.Header
	body   []byte
	host   string
}

// fake is a minimal Falcon API for unit tests: an OAuth2 endpoint that
// issues tok-1, tok-2, ... and a per-test API handler.
type fake struct {
	t   testing.TB
	srv *httptest.Server

	mu     sync.Mutex
	reqs   []seen // API requests
	tokens []seen // /oauth2/token requests
	revoke []seen // /oauth2/revoke requests

	tokenN      atomic.Int32
	tokenStatus atomic.Int32 // non-zero: answer /oauth2/token with it
	tokenFails  atomic.Int32 // the first tokenFails token requests get 503
	tokenDelay  time.Duration
	expiresIn   int
	region      string

	api http.HandlerFunc
}

func newFake(t testing.TB, api http.HandlerFunc) *fake {
	t.Helper()
	f := &fake{t: t, api: api, expiresIn: 1799}
	f.srv = httptest.NewServer(http.HandlerFunc(f.serve))
	t.Cleanup(f.srv.Close)
	return f
}

func (f *fake) serve(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	s := seen{at: time.Now(), method: r.Method, path: r.URL.Path, query: r.URL.Query(), header: r.Header.Clone(), body: body, host: r.Host}
	switch r.URL.Path {
	case "/oauth2/token":
		f.mu.Lock()
		f.tokens = append(f.tokens, s)
		f.mu.Unlock()
		if f.tokenDelay > 0 {
			time.Sleep(f.tokenDelay)
		}
		st := f.tokenStatus.Load()
		if f.tokenFails.Add(-1) >= 0 {
			st = 503
		}
		if st != 0 {
			writeEnv(w, int(st), `{"meta":{"query_time":0.1,"trace_id":"tok-trace"},"errors":[{"code":`+strconv.Itoa(int(st))+`,"message":"access denied, invalid client"}]}`)
			return
		}
		n := f.tokenN.Add(1)
		if f.region != "" {
			w.Header().Set("X-CS-Region", f.region)
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusCreated)
		fmt.Fprintf(w, `{"access_token":"tok-%d","expires_in":%d,"token_type":"bearer"}`, n, f.expiresIn)
	case "/oauth2/revoke":
		f.mu.Lock()
		f.revoke = append(f.revoke, s)
		f.mu.Unlock()
		writeEnv(w, 200, `{"meta":{"query_time":0.1,"trace_id":"rev-trace"},"errors":[]}`)
	default:
		f.mu.Lock()
		f.reqs = append(f.reqs, s)
		f.mu.Unlock()
		f.api(w, r)
	}
}

func (f *fake) requests() []seen {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]seen(nil), f.reqs...)
}

func (f *fake) tokenRequests() []seen {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]seen(nil), f.tokens...)
}

// client returns a Client for f with fast retries and no budget.
func (f *fake) client(mod func(*Config)) *Client {
	f.t.Helper()
	cfg := withDefaults(Config{
		BaseURL:           f.srv.URL,
		ClientID:          "client-id",
		ClientSecret:      "client-secret",
		RequestsPerMinute: -1,
		MaxRetries:        3,
		BackoffBase:       time.Millisecond,
		BackoffMax:        5 * time.Millisecond,
	})
	if mod != nil {
		mod(&cfg)
	}
	c, err := New(cfg)
	if err != nil {
		f.t.Fatalf("New: %v", err)
	}
	return c
}

// writeEnv writes body with the headers every Falcon response carries.
func writeEnv(w http.ResponseWriter, status int, body string) {
	h := w.Header()
	if h.Get("X-CS-TRACEID") == "" {
		h.Set("X-CS-TRACEID", "trace-"+strconv.Itoa(status))
	}
	if h.Get("X-RateLimit-Limit") == "" {
		h.Set("X-RateLimit-Limit", "6000")
	}
	if h.Get("X-RateLimit-Remaining") == "" {
		h.Set("X-RateLimit-Remaining", "5000")
	}
	h.Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = io.WriteString(w, body)
}

// ok is a success envelope around resources (raw JSON).
func ok(resources string) string {
	return `{"meta":{"query_time":0.001,"powered_by":"installation-tokens","trace_id":"trace-ok"},"resources":` + resources + `,"errors":[]}`
}

// page is a query envelope.
func page(ids []string, offset, limit int, total int64) string {
	b, _ := json.Marshal(ids)
	return fmt.Sprintf(`{"meta":{"query_time":0.001,"trace_id":"trace-q","pagination":{"offset":%d,"limit":%d,"total":%d}},"resources":%s,"errors":[]}`, offset, limit, total, b)
}

// errBody is an error envelope.
func errBody(code int, msg string) string {
	return fmt.Sprintf(`{"meta":{"query_time":0.001,"trace_id":"trace-body"},"resources":null,"errors":[{"code":%d,"message":%q}]}`, code, msg)
}

func tokenJSON(id string) string {
	return `{"id":"` + id + `","label":"l-` + id + `","value":"secret-` + id + `","type":"customer_managed","status":"valid","created_timestamp":"2025-02-03T09:15:00Z","expires_timestamp":null,"last_used_timestamp":null,"revoked_timestamp":null}`
}

func eventJSON(id string) string {
	return `{"id":"` + id + `","action":"token_create","actor":"ops@example.com","description":"d","timestamp":"2025-02-03T09:15:00Z","token_id":"t1"}`
}

// hexID returns a 32-hex ID for n.
func hexID(n int) string { return fmt.Sprintf("%032x", n) }

func joinObjects(objs []string) string { return "[" + strings.Join(objs, ",") + "]" }

// hijackWrite writes raw bytes on the connection and closes it, for
// truncated bodies and resets.
func hijackWrite(t *testing.T, w http.ResponseWriter, raw string) {
	hj, okh := w.(http.Hijacker)
	if !okh {
		t.Error("no hijacker")
		return
	}
	conn, buf, err := hj.Hijack()
	if err != nil {
		t.Error(err)
		return
	}
	_, _ = buf.WriteString(raw)
	_ = buf.Flush()
	_ = conn.Close()
}

// withDefaults returns cfg with its zero fields set to the defaults.
func withDefaults(cfg Config) Config { return configtest.WithDefaults(cfg, DefaultConfiguration()) }
