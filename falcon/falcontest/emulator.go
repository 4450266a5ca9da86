package falcontest

import (
	"crypto/rand"
	"fmt"
	"io"
	"mime"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"
)

// Emulator serves the Falcon Installation Tokens API and its OAuth2 endpoints. It implements http.Handler.
type Emulator struct {
	cfg     Config
	clock   *Clock
	tenants []*Tenant
	byCID   map[string]*Tenant     // cidKey → tenant
	clients map[string]*apiClient  // client ID → client
	routes  map[string][]operation // path → operations by method

	auth   authStore
	limits limiter
	faults faultState
	rec    recorder
}

type operation struct {
	name, method, path, scope string
	handle                    func(e *Emulator, rc *reqCtx) response
}

// Request is one request the emulator received.
type Request struct {
	Method, Path, RawQuery string
	Header                 http.Header
	Body                   []byte // up to 64 KiB
	Operation              string // "" for unknown paths
	ClientID, CID          string // from the bearer, when it was valid
	// Status sent; 0 when the connection was reset.
	Status int
	Time   time.Time // the emulator clock's time
}

// New builds an emulator and seeds its tenants. Building a tenant with a million events takes about a
// second.
func New(cfg Config) (*Emulator, error) {
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	e := &Emulator{cfg: cfg, clock: cfg.Clock, byCID: map[string]*Tenant{}, clients: map[string]*apiClient{}}
	if e.cfg.OffsetCap == 0 {
		e.cfg.OffsetCap = DefaultOffsetCap
	}
	if e.cfg.TokenTTL == 0 {
		e.cfg.TokenTTL = DefaultTokenTTL
	}
	rl := &e.cfg.RateLimit
	if rl.BadBearerPerMinute == 0 {
		rl.BadBearerPerMinute = DefaultBadBearerPerMinute
	}
	if rl.TokenPerMinute == 0 {
		rl.TokenPerMinute = DefaultTokenPerMinute
	}
	switch {
	case e.cfg.RecordLimit == 0:
		e.rec.limit = DefaultRecordLimit
	case e.cfg.RecordLimit > 0:
		e.rec.limit = e.cfg.RecordLimit
	}
	e.auth.tokens = map[string]*accessToken{}
	e.limits.init()
	e.faults.set(cfg.Faults, newRand(cfg.Seed, "faults"))
	e.buildRoutes()

	tcs := cfg.Tenants
	if len(tcs) == 0 {
		tcs = []TenantConfig{DefaultTenant()}
	}
	end := e.now().Truncate(time.Second)
	for i, tc := range tcs {
		t, err := e.newTenant(i, tc)
		if err != nil {
			return nil, err
		}
		e.tenants = append(e.tenants, t)
	}
	// Member CIDs may name generated CIDs, so resolve them once every tenant exists.
	for _, t := range e.tenants {
		for _, c := range t.clients {
			c.members = map[string]*Tenant{cidKey(t.cid): t}
			for _, m := range c.MemberCIDs {
				mt, ok := e.byCID[cidKey(m)]
				if !ok {
					return nil, fmt.Errorf("%w: client %q: member CID %q is not a tenant", ErrInvalidConfig, c.ID, m)
				}
				c.members[cidKey(m)] = mt
			}
		}
	}
	for i, t := range e.tenants {
		t.seed(tcs[i], end, cfg.FractionalTimestamps)
	}
	return e, nil
}

func (e *Emulator) newTenant(i int, tc TenantConfig) (*Tenant, error) {
	cid := tc.CID
	if cid == "" {
		cid = DerivedCID(e.cfg.Seed, i)
	}
	if _, dup := e.byCID[cidKey(cid)]; dup {
		return nil, fmt.Errorf("%w: tenant %d: duplicate CID %q", ErrInvalidConfig, i, cid)
	}
	region := tc.Region
	if region == "" {
		region = DefaultRegion
	}
	t := &Tenant{
		emu: e, cid: cid, region: region, lateFraction: tc.LateFraction, lateMax: tc.LateMax,
		rng:    newRand(e.cfg.Seed, "tenant/"+cid),
		tokens: map[string]*token{}, values: map[string]bool{}, actorIx: map[string]uint32{},
		audit: newAuditStore(newEventIDs(e.cfg.Seed, cid)),
	}
	if t.lateMax == 0 {
		t.lateMax = DefaultLateMax
	}
	clients := tc.Clients
	if len(clients) == 0 {
		cr := newRand(e.cfg.Seed, "client/"+cid)
		clients = []APIClient{{ID: idString(randomID(cr)), Secret: randomSecret(cr, 40), Scopes: []string{ScopeRead, ScopeWrite, ScopeSettingsWrite}}}
	}
	for _, c := range clients {
		if _, dup := e.clients[c.ID]; dup {
			return nil, fmt.Errorf("%w: duplicate client ID %q", ErrInvalidConfig, c.ID)
		}
		ac := &apiClient{APIClient: c, tenant: t, scopes: map[string]bool{}}
		for _, s := range c.Scopes {
			ac.scopes[s] = true
		}
		t.clients = append(t.clients, ac)
		e.clients[c.ID] = ac
	}
	t.actors = tenantActors(t.rng, i, t.clients)
	e.byCID[cidKey(cid)] = t
	return t, nil
}

// Tenants returns the tenants in configuration order.
func (e *Emulator) Tenants() []*Tenant { return append([]*Tenant(nil), e.tenants...) }

// Tenant returns the tenant with the CID (case-insensitive), or nil.
func (e *Emulator) Tenant(cid string) *Tenant { return e.byCID[cidKey(cid)] }

// Clock returns the configured clock (nil for real time).
func (e *Emulator) Clock() *Clock { return e.clock }

// SetFaults replaces the fault configuration and restarts schedule counting. It panics if f is invalid
// (see Faults.Validate).
func (e *Emulator) SetFaults(f Faults) {
	if err := f.Validate(); err != nil {
		panic(err)
	}
	e.faults.set(f, nil)
}

// Requests returns the recorded requests, oldest first.
func (e *Emulator) Requests() []Request { return e.rec.all() }

// ResetRequests forgets the recorded requests.
func (e *Emulator) ResetRequests() { e.rec.reset() }

func (e *Emulator) now() time.Time { return e.clock.Now() }

// stamp truncates a time to the precision the emulator stores and emits.
func (e *Emulator) stamp(t time.Time) time.Time {
	if e.cfg.FractionalTimestamps {
		return t.UTC().Truncate(time.Microsecond)
	}
	return t.UTC().Truncate(time.Second)
}

func (e *Emulator) buildRoutes() {
	const p = "/installation-tokens/"
	ops := []operation{
		{OpTokensQuery, http.MethodGet, p + "queries/tokens/v1", ScopeRead, (*Emulator).tokensQuery},
		{OpTokensRead, http.MethodGet, p + "entities/tokens/v1", ScopeRead, (*Emulator).tokensRead},
		{OpTokensCreate, http.MethodPost, p + "entities/tokens/v1", ScopeWrite, (*Emulator).tokensCreate},
		{OpTokensUpdate, http.MethodPatch, p + "entities/tokens/v1", ScopeWrite, (*Emulator).tokensUpdate},
		{OpTokensDelete, http.MethodDelete, p + "entities/tokens/v1", ScopeWrite, (*Emulator).tokensDelete},
		{OpAuditEventsQuery, http.MethodGet, p + "queries/audit-events/v1", ScopeRead, (*Emulator).auditQuery},
		{OpAuditEventsRead, http.MethodGet, p + "entities/audit-events/v1", ScopeRead, (*Emulator).auditRead},
		{OpCustomerSettingsRead, http.MethodGet, p + "entities/customer-settings/v1", ScopeRead, (*Emulator).settingsRead},
		{OpCustomerSettingsUpdate, http.MethodPatch, p + "entities/customer-settings/v1", ScopeSettingsWrite, (*Emulator).settingsUpdate},
		{OpOAuth2Token, http.MethodPost, "/oauth2/token", "", (*Emulator).oauthToken},
		{OpOAuth2Revoke, http.MethodPost, "/oauth2/revoke", "", (*Emulator).oauthRevoke},
	}
	e.routes = map[string][]operation{}
	for _, op := range ops {
		e.routes[op.path] = append(e.routes[op.path], op)
	}
}

// reqCtx is one request in flight.
type reqCtx struct {
	w      http.ResponseWriter
	r      *http.Request
	start  time.Time // wall time, for query_time
	now    time.Time // emulator clock
	trace  string
	ip     string
	op     *operation
	body   []byte
	client *apiClient
	tenant *Tenant
	rl     rateHeaders
}

// ServeHTTP implements http.Handler.
func (e *Emulator) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	rc := &reqCtx{w: w, r: r, start: time.Now(), now: e.now(), trace: newTraceID(), ip: remoteIP(r)}
	rc.rl = rateHeaders{limit: DisabledRateLimitHeader, remaining: DisabledRateLimitHeader - 1}
	if r.Body != nil {
		b, _ := io.ReadAll(io.LimitReader(r.Body, 8<<20))
		rc.body = b
	}
	resp := e.serve(rc)
	status := e.write(rc, resp)
	e.rec.add(rc, status)
}

func (e *Emulator) serve(rc *reqCtx) response {
	ops, ok := e.routes[rc.r.URL.Path]
	if !ok {
		return e.gatewayError(rc, http.StatusNotFound, "Not Found")
	}
	for i := range ops {
		if ops[i].method == rc.r.Method {
			rc.op = &ops[i]
		}
	}
	if rc.op == nil {
		return e.gatewayError(rc, http.StatusMethodNotAllowed, "Method Not Allowed")
	}
	if rc.op.name == OpOAuth2Token || rc.op.name == OpOAuth2Revoke {
		return rc.op.handle(e, rc)
	}

	if resp, ok := e.authenticate(rc); !ok {
		return resp
	}
	if resp, ok := e.rateLimitCID(rc); !ok {
		return resp
	}
	fault := e.faults.decide(rc.op.name)
	if resp, ok := e.preFault(rc, fault); ok {
		return resp
	}
	if !rc.client.scopes[rc.op.scope] {
		return e.gatewayError(rc, http.StatusForbidden, "access denied, authorization failed")
	}
	if e.cfg.Strict && !isJSON(rc.r.Header.Get("Content-Type")) {
		return e.badRequest(rc, "Content-Type must be application/json")
	}
	resp := rc.op.handle(e, rc)
	resp.fault = fault.kind
	return resp
}

func isJSON(ct string) bool {
	mt, _, err := mime.ParseMediaType(ct)
	return err == nil && mt == "application/json"
}

func remoteIP(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

func newTraceID() string {
	var b [16]byte
	rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	const hx = "0123456789abcdef"
	out := make([]byte, 0, 36)
	for i, c := range b {
		if i == 4 || i == 6 || i == 8 || i == 10 {
			out = append(out, '-')
		}
		out = append(out, hx[c>>4], hx[c&15])
	}
	return string(out)
}

// recorder keeps the most recent requests in a ring.
type recorder struct {
	mu    sync.Mutex
	limit int // 0 = off
	buf   []Request
	next  int // ring write position once full
}

func (rc *recorder) add(c *reqCtx, status int) {
	if rc.limit == 0 {
		return
	}
	body := c.body
	if len(body) > 64<<10 {
		body = body[:64<<10]
	}
	req := Request{
		Method: c.r.Method, Path: c.r.URL.Path, RawQuery: c.r.URL.RawQuery, Header: c.r.Header.Clone(),
		Body: append([]byte(nil), body...), Status: status, Time: c.now,
	}
	if c.op != nil {
		req.Operation = c.op.name
	}
	if c.client != nil {
		req.ClientID, req.CID = c.client.ID, c.tenant.cid
	}
	rc.mu.Lock()
	defer rc.mu.Unlock()
	if len(rc.buf) < rc.limit {
		rc.buf = append(rc.buf, req)
		return
	}
	rc.buf[rc.next] = req
	rc.next = (rc.next + 1) % rc.limit
}

func (rc *recorder) all() []Request {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	out := make([]Request, 0, len(rc.buf))
	out = append(out, rc.buf[rc.next:]...)
	return append(out, rc.buf[:rc.next]...)
}

func (rc *recorder) reset() {
	rc.mu.Lock()
	rc.buf, rc.next = nil, 0
	rc.mu.Unlock()
}

// requestIDs splits ids given as repeated keys, comma-separated values or both; order kept, duplicates and
// blanks dropped, lowercased.
func requestIDs(values []string) []string {
	var out []string
	seen := map[string]bool{}
	for _, v := range values {
		for part := range strings.SplitSeq(v, ",") {
			id := strings.ToLower(strings.TrimSpace(part))
			if id != "" && !seen[id] {
				seen[id] = true
				out = append(out, id)
			}
		}
	}
	return out
}
