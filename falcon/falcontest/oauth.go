package falcontest

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"
)

type accessToken struct {
	client  *apiClient
	tenant  *Tenant // the CID the token acts for (member_cid or the client's own)
	expires time.Time
	revoked bool
}

type authStore struct {
	mu     sync.RWMutex
	tokens map[string]*accessToken
	issued int
}

const jwtHeader = "eyJhbGciOiJSUzI1NiIsInR5cCI6IkpXVCJ9" // {"alg":"RS256","typ":"JWT"}

func (a *authStore) issue(c *apiClient, t *Tenant, now time.Time, ttl time.Duration) string {
	claims, _ := json.Marshal(map[string]any{
		"client_id": c.ID, "cid": strings.ToLower(t.cid), "exp": now.Add(ttl).Unix(), "iat": now.Unix(),
		"iss": "https://api.crowdstrike.com/", "scp": c.Scopes,
	})
	sig := make([]byte, 64)
	rand.Read(sig)
	tok := jwtHeader + "." + base64.RawURLEncoding.EncodeToString(claims) + "." + base64.RawURLEncoding.EncodeToString(sig)
	a.mu.Lock()
	defer a.mu.Unlock()
	a.issued++
	if a.issued%256 == 0 { // forget tokens long dead
		for k, v := range a.tokens {
			if now.Sub(v.expires) > time.Hour {
				delete(a.tokens, k)
			}
		}
	}
	a.tokens[tok] = &accessToken{client: c, tenant: t, expires: now.Add(ttl)}
	return tok
}

func (a *authStore) lookup(bearer string, now time.Time) (*accessToken, bool) {
	a.mu.RLock()
	defer a.mu.RUnlock()
	at, ok := a.tokens[bearer]
	if !ok || at.revoked || !now.Before(at.expires) {
		return nil, false
	}
	return at, true
}

// authenticate checks the bearer. On failure it returns the 401 (or, past the per-IP bad-bearer budget,
// the 429) to send.
func (e *Emulator) authenticate(rc *reqCtx) (response, bool) {
	h := rc.r.Header.Get("Authorization")
	scheme, tok, _ := strings.Cut(h, " ")
	if strings.EqualFold(scheme, "bearer") && tok != "" {
		if at, ok := e.auth.lookup(strings.TrimSpace(tok), rc.now); ok {
			rc.client, rc.tenant = at.client, at.tenant
			return response{}, true
		}
	}
	if resp, ok := e.rateLimitIP(rc, &e.limits.badBearer, e.cfg.RateLimit.BadBearerPerMinute); !ok {
		return resp, false
	}
	return e.gatewayError(rc, http.StatusUnauthorized, "access denied, invalid bearer token"), false
}

// credentials reads client_id/client_secret from the form or from HTTP Basic (URL-encoded per RFC 6749).
func credentials(r *http.Request) (id, secret string) {
	id, secret = r.PostForm.Get("client_id"), r.PostForm.Get("client_secret")
	if id != "" && secret != "" {
		return id, secret
	}
	if u, p, ok := r.BasicAuth(); ok {
		if uu, err := url.QueryUnescape(u); err == nil {
			u = uu
		}
		if pp, err := url.QueryUnescape(p); err == nil {
			p = pp
		}
		return u, p
	}
	return id, secret
}

func (e *Emulator) checkClient(id, secret string) (*apiClient, bool) {
	c, ok := e.clients[id]
	if !ok || subtle.ConstantTimeCompare([]byte(c.Secret), []byte(secret)) != 1 {
		return nil, false
	}
	return c, true
}

// parseForm fills rc.r.PostForm from the (already read) body when it is form-encoded.
func (e *Emulator) parseForm(rc *reqCtx) bool {
	rc.r.PostForm = url.Values{}
	if !strings.HasPrefix(strings.ToLower(rc.r.Header.Get("Content-Type")), "application/x-www-form-urlencoded") {
		return true
	}
	vals, err := url.ParseQuery(string(rc.body))
	if err != nil {
		return false
	}
	rc.r.PostForm = vals
	return true
}

func (e *Emulator) oauthToken(rc *reqCtx) response {
	if resp, ok := e.rateLimitIP(rc, &e.limits.tokenIP, e.cfg.RateLimit.TokenPerMinute); !ok {
		return resp
	}
	fault := e.faults.decide(rc.op.name)
	if resp, ok := e.preFault(rc, fault); ok {
		return resp
	}
	if !e.parseForm(rc) {
		return e.badRequest(rc, "invalid form body")
	}
	id, secret := credentials(rc.r)
	if id == "" || secret == "" {
		return e.badRequest(rc, "client_id and client_secret are required")
	}
	c, ok := e.checkClient(id, secret)
	if !ok {
		return e.gatewayError(rc, http.StatusForbidden, "Failed to issue access token - Not Authorized")
	}
	target := c.tenant
	if m := rc.r.PostForm.Get("member_cid"); m != "" {
		if target, ok = c.members[cidKey(m)]; !ok {
			return e.gatewayError(rc, http.StatusForbidden, "Failed to issue access token - Not Authorized")
		}
	}
	ttl := e.cfg.TokenTTL
	tok := e.auth.issue(c, target, rc.now, ttl)
	body, _ := json.Marshal(map[string]any{
		"access_token": tok, "expires_in": int(ttl / time.Second), "token_type": "bearer",
	})
	return response{status: http.StatusCreated, body: body, fault: fault.kind,
		header: map[string]string{"X-CS-Region": target.region}}
}

func (e *Emulator) oauthRevoke(rc *reqCtx) response {
	fault := e.faults.decide(rc.op.name)
	if resp, ok := e.preFault(rc, fault); ok {
		return resp
	}
	if !e.parseForm(rc) {
		return e.badRequest(rc, "invalid form body")
	}
	u, p, ok := rc.r.BasicAuth()
	if !ok {
		return e.gatewayError(rc, http.StatusUnauthorized, "access denied, invalid bearer token")
	}
	if uu, err := url.QueryUnescape(u); err == nil {
		u = uu
	}
	if pp, err := url.QueryUnescape(p); err == nil {
		p = pp
	}
	c, ok := e.checkClient(u, p)
	if !ok {
		return e.gatewayError(rc, http.StatusForbidden, "access denied, authorization failed")
	}
	tok := rc.r.PostForm.Get("token")
	if tok == "" {
		return e.badRequest(rc, "token is required")
	}
	// RFC 7009: unknown tokens and other clients' tokens are not an error; only the owner can revoke.
	e.auth.mu.Lock()
	if at, ok := e.auth.tokens[tok]; ok && at.client == c {
		at.revoked = true
	}
	e.auth.mu.Unlock()
	resp := response{status: http.StatusOK, fault: fault.kind}
	b := []byte(`{"meta":{"query_time":`)
	b = strconv.AppendFloat(b, max(time.Since(rc.start).Seconds(), 1e-7), 'g', 4, 64)
	b = append(b, `,"powered_by":"csam","trace_id":`...)
	b = appendJSONString(b, rc.trace)
	resp.body = append(b, "}}"...)
	return resp
}
