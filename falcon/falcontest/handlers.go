package falcontest

import (
	"bytes"
	"cmp"
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/tokentrail/tokentrail/falcon/falcontest/fql"
)

// Filterable and sortable fields (contract §5).
var (
	tokenSchema = fql.Schema{
		{Name: "status", Kind: fql.KindString},
		{Name: "label", Kind: fql.KindString},
		{Name: "type", Kind: fql.KindString},
		{Name: "created_timestamp", Kind: fql.KindTime},
		{Name: "expires_timestamp", Kind: fql.KindTime},
		{Name: "last_used_timestamp", Kind: fql.KindTime},
	}
	auditSchema = fql.Schema{
		{Name: "action", Kind: fql.KindString},
		{Name: "timestamp", Kind: fql.KindTime},
		{Name: "token_id", Kind: fql.KindString},
	}
)

const auditTimestamp = 1 // index of timestamp in auditSchema

type tokenRec struct {
	t   *Tenant
	tok *token
	now time.Time
}

func (r tokenRec) Str(f int) string {
	switch f {
	case 0:
		return r.t.status(r.tok, r.now)
	case 1:
		return r.tok.label
	case 2:
		return r.tok.typ
	}
	return ""
}

func (r tokenRec) Time(f int) (time.Time, bool) {
	var v time.Time
	switch f {
	case 3:
		v = r.tok.created
	case 4:
		v = r.tok.expires
	case 5:
		v = r.tok.lastUsed
	}
	return v, !v.IsZero()
}

type auditRec struct {
	s   *auditStore
	seq uint32
}

func (r auditRec) Str(f int) string {
	switch f {
	case 0:
		return r.s.act[r.seq].String()
	case 2:
		if ref := r.s.tok[r.seq]; ref >= 0 {
			return idString(r.s.tokRefs[ref])
		}
	}
	return ""
}

func (r auditRec) Time(f int) (time.Time, bool) {
	if f == auditTimestamp {
		return time.Unix(0, r.s.ts[r.seq]), true
	}
	return time.Time{}, false
}

// compareRecords orders by the sort keys, unset timestamps first in either direction, then by id.
func compareRecords(schema fql.Schema, keys []sortKey, a, b fql.Record) int {
	for _, k := range keys {
		var c int
		if schema[k.field].Kind == fql.KindTime {
			ta, oka := a.Time(k.field)
			tb, okb := b.Time(k.field)
			if !oka || !okb {
				if oka == okb {
					continue
				}
				if !oka {
					return -1
				}
				return 1
			}
			c = ta.Compare(tb)
		} else {
			c = strings.Compare(a.Str(k.field), b.Str(k.field))
		}
		if k.desc {
			c = -c
		}
		if c != 0 {
			return c
		}
	}
	return 0
}

type sortKey struct {
	field int
	desc  bool
}

func (e *Emulator) sortKeys(rc *reqCtx, param string, schema fql.Schema, def string) ([]sortKey, *response) {
	if strings.TrimSpace(param) == "" {
		param = def
	}
	parsed, err := fql.ParseSort(param)
	if err != nil {
		resp := e.badRequest(rc, err.Error())
		return nil, &resp
	}
	keys := make([]sortKey, 0, len(parsed))
	for _, k := range parsed {
		i := schema.Index(k.Field)
		if i < 0 {
			resp := e.badRequest(rc, fmt.Sprintf("invalid sort %q: unknown field %q", param, k.Field))
			return nil, &resp
		}
		keys = append(keys, sortKey{field: i, desc: k.Desc})
	}
	return keys, nil
}

// paging validates offset and limit against the limits of contract §6.
func (e *Emulator) paging(rc *reqCtx, q url.Values) (offset, limit int, fail *response) {
	bad := func(msg string) (int, int, *response) {
		resp := e.badRequest(rc, msg)
		return 0, 0, &resp
	}
	limit = 50
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil {
			return bad(fmt.Sprintf("invalid limit %q: must be an integer between 1 and 1000", v))
		}
		if n < 1 || n > 1000 {
			if !e.cfg.ClampLimit {
				return bad(fmt.Sprintf("limit %d is invalid; limit must be between 1 and 1000", n))
			}
			n = min(max(n, 1), 1000)
		}
		limit = n
	}
	if v := q.Get("offset"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 {
			return bad(fmt.Sprintf("invalid offset %q: must be a non-negative integer", v))
		}
		offset = n
	}
	if c := e.cfg.OffsetCap; c > 0 && offset+limit > c {
		return bad(fmt.Sprintf("offset %d and limit %d are invalid; offset + limit must be less than or equal to %d", offset, limit, c))
	}
	return offset, limit, nil
}

func (e *Emulator) pagination(offset, limit, n, total int) *pagination {
	if e.cfg.NextOffsetInPagination {
		offset += n
	}
	return &pagination{offset: offset, limit: limit, total: total}
}

func (e *Emulator) idsParam(rc *reqCtx) ([]string, *response) {
	ids := requestIDs(rc.r.URL.Query()["ids"])
	if len(ids) == 0 {
		resp := e.badRequest(rc, "ids: at least one id is required")
		return nil, &resp
	}
	if m := e.cfg.MaxIDsPerRead; m > 0 && len(ids) > m {
		resp := e.badRequest(rc, fmt.Sprintf("too many ids: %d requested, at most %d allowed", len(ids), m))
		return nil, &resp
	}
	return ids, nil
}

func (e *Emulator) tokensQuery(rc *reqCtx) response {
	q := rc.r.URL.Query()
	offset, limit, fail := e.paging(rc, q)
	if fail != nil {
		return *fail
	}
	flt, err := fql.ParseAndCompile(q.Get("filter"), tokenSchema, fql.Options{GreaterAsGreaterEqual: e.faults.greaterAsGreaterEqual()})
	if err != nil {
		return e.badRequest(rc, err.Error())
	}
	keys, fail := e.sortKeys(rc, q.Get("sort"), tokenSchema, "created_timestamp.asc")
	if fail != nil {
		return *fail
	}
	t := rc.tenant
	t.mu.RLock()
	var recs []tokenRec
	for _, tok := range t.tokens {
		if r := (tokenRec{t: t, tok: tok, now: rc.now}); flt.Match(r) {
			recs = append(recs, r)
		}
	}
	slices.SortFunc(recs, func(a, b tokenRec) int {
		return cmp.Or(compareRecords(tokenSchema, keys, a, b), strings.Compare(a.tok.id, b.tok.id))
	})
	var ids []string
	for _, r := range recs[min(offset, len(recs)):min(offset+limit, len(recs))] {
		ids = append(ids, r.tok.id)
	}
	t.mu.RUnlock()
	if ids == nil {
		ids = []string{}
	}
	return e.ok(rc, http.StatusOK, envelope{
		pagination: e.pagination(offset, limit, len(ids), len(recs)), resources: appendStringList(ids),
	})
}

func (e *Emulator) appendToken(b []byte, t *Tenant, tok *token, now time.Time) []byte {
	b = append(b, `{"id":`...)
	b = appendJSONString(b, tok.id)
	b = append(b, `,"label":`...)
	b = appendJSONString(b, tok.label)
	b = append(b, `,"value":`...)
	b = appendJSONString(b, tok.value)
	b = append(b, `,"type":`...)
	b = appendJSONString(b, tok.typ)
	b = append(b, `,"status":`...)
	b = appendJSONString(b, t.status(tok, now))
	b = append(b, `,"created_timestamp":`...)
	b = e.appendTime(b, tok.created)
	b = append(b, `,"expires_timestamp":`...)
	b = e.appendExpiry(b, tok.expires)
	b = append(b, `,"last_used_timestamp":`...)
	b = e.appendTime(b, tok.lastUsed)
	b = append(b, `,"revoked_timestamp":`...)
	b = e.appendTime(b, tok.revoked)
	return append(b, '}')
}

// tokenList renders tokens as the resources array; call with t.mu held.
func (e *Emulator) tokenList(t *Tenant, toks []*token, now time.Time) func([]byte) []byte {
	var buf []byte
	buf = append(buf, '[')
	for i, tok := range toks {
		if i > 0 {
			buf = append(buf, ',')
		}
		buf = e.appendToken(buf, t, tok, now)
	}
	buf = append(buf, ']')
	return func(b []byte) []byte { return append(b, buf...) }
}

func (e *Emulator) tokensRead(rc *reqCtx) response {
	ids, fail := e.idsParam(rc)
	if fail != nil {
		return *fail
	}
	t := rc.tenant
	t.mu.RLock()
	defer t.mu.RUnlock()
	var found []*token
	for _, id := range ids {
		if tok, ok := t.tokens[id]; ok {
			found = append(found, tok)
		}
	}
	if len(found) == 0 && e.cfg.NotFoundWhenNoneMatch {
		return e.notFound(rc, ids, "token")
	}
	return e.ok(rc, http.StatusOK, envelope{resources: e.tokenList(t, found, rc.now)})
}

// jsonBody decodes a request body that must be a JSON object; fields keep their raw form so that absent,
// null and a value stay distinct.
func (e *Emulator) jsonBody(rc *reqCtx) (map[string]json.RawMessage, *response) {
	if len(bytes.TrimSpace(rc.body)) == 0 {
		resp := e.badRequest(rc, "request body is required")
		return nil, &resp
	}
	var m map[string]json.RawMessage
	if err := json.Unmarshal(rc.body, &m); err != nil || m == nil {
		msg := "request body must be a JSON object"
		if err != nil {
			msg = "invalid JSON body: " + err.Error()
		}
		resp := e.badRequest(rc, msg)
		return nil, &resp
	}
	return m, nil
}

func isNull(raw json.RawMessage) bool { return string(bytes.TrimSpace(raw)) == "null" }

func stringField(m map[string]json.RawMessage, name string) (*string, error) {
	raw, ok := m[name]
	if !ok {
		return nil, nil
	}
	var s string
	if isNull(raw) || json.Unmarshal(raw, &s) != nil {
		return nil, fmt.Errorf("%s must be a string", name)
	}
	return &s, nil
}

// expiryField reads expires_timestamp: set=false when absent; exp=nil for null or the zero time.
func expiryField(m map[string]json.RawMessage) (set bool, exp *time.Time, err error) {
	raw, ok := m["expires_timestamp"]
	if !ok {
		return false, nil, nil
	}
	if isNull(raw) {
		return true, nil, nil
	}
	var s string
	if json.Unmarshal(raw, &s) != nil {
		return false, nil, fmt.Errorf("expires_timestamp must be an RFC 3339 date-time or null")
	}
	t, perr := time.Parse(time.RFC3339Nano, s)
	if perr != nil {
		return false, nil, fmt.Errorf("expires_timestamp %q is not an RFC 3339 date-time", s)
	}
	if t.UTC().Year() <= 1 { // 0001-01-01T00:00:00(.000)Z, as gofalcon sends for "never"
		return true, nil, nil
	}
	return true, &t, nil
}

func (e *Emulator) tokensCreate(rc *reqCtx) response {
	m, fail := e.jsonBody(rc)
	if fail != nil {
		return *fail
	}
	label, err := stringField(m, "label")
	if err != nil {
		return e.badRequest(rc, err.Error())
	}
	typ, err := stringField(m, "type")
	if err != nil {
		return e.badRequest(rc, err.Error())
	}
	_, exp, err := expiryField(m)
	if err != nil {
		return e.badRequest(rc, err.Error())
	}
	if label == nil {
		label = new(string)
	}
	if typ == nil || *typ == "" {
		typ = new("customer_managed")
	}
	t := rc.tenant
	t.mu.Lock()
	defer t.mu.Unlock()
	tok, err := t.createLocked(rc.client.ID, *label, *typ, exp, 0)
	if err != nil {
		return e.serviceError(rc, http.StatusConflict,
			fmt.Sprintf("maximum number of active tokens (%d) reached", t.settings.maxActive))
	}
	return e.ok(rc, http.StatusCreated, envelope{resources: e.tokenList(t, []*token{tok}, rc.now)})
}

func (e *Emulator) tokensUpdate(rc *reqCtx) response {
	ids, fail := e.idsParam(rc)
	if fail != nil {
		return *fail
	}
	m, fail := e.jsonBody(rc)
	if fail != nil {
		return *fail
	}
	var p tokenPatch
	var err error
	if p.label, err = stringField(m, "label"); err != nil {
		return e.badRequest(rc, err.Error())
	}
	if p.setExpiry, p.expires, err = expiryField(m); err != nil {
		return e.badRequest(rc, err.Error())
	}
	if raw, ok := m["revoked"]; ok {
		var v bool
		if isNull(raw) || json.Unmarshal(raw, &v) != nil {
			return e.badRequest(rc, "revoked must be a boolean")
		}
		p.revoked = &v
	}
	t := rc.tenant
	t.mu.Lock()
	defer t.mu.Unlock()
	toks, missing := t.lookup(ids)
	if len(missing) > 0 {
		return e.notFound(rc, missing, "token")
	}
	for _, tok := range toks {
		t.patchLocked(rc.client.ID, tok, p, 0)
	}
	if e.cfg.LegacyWriteResponses {
		return e.ok(rc, http.StatusOK, envelope{resources: appendStringList(ids)})
	}
	return e.ok(rc, http.StatusOK, envelope{resources: e.tokenList(t, toks, rc.now)})
}

// lookup finds tokens by ID; call with t.mu held.
func (t *Tenant) lookup(ids []string) (found []*token, missing []string) {
	for _, id := range ids {
		if tok, ok := t.tokens[id]; ok {
			found = append(found, tok)
		} else {
			missing = append(missing, id)
		}
	}
	return found, missing
}

func (e *Emulator) tokensDelete(rc *reqCtx) response {
	ids, fail := e.idsParam(rc)
	if fail != nil {
		return *fail
	}
	t := rc.tenant
	t.mu.Lock()
	defer t.mu.Unlock()
	toks, missing := t.lookup(ids)
	if len(missing) > 0 {
		return e.notFound(rc, missing, "token")
	}
	for _, tok := range toks {
		t.deleteLocked(rc.client.ID, tok, 0)
	}
	return e.ok(rc, http.StatusOK, envelope{})
}

// promoteDue makes late events visible once the clock reaches them.
func (t *Tenant) promoteDue(now time.Time) {
	n := now.UnixNano()
	t.mu.RLock()
	due := t.audit.due(n)
	t.mu.RUnlock()
	if due {
		t.mu.Lock()
		t.audit.promote(n)
		t.mu.Unlock()
	}
}

// unixNanos converts a filter bound to the store's representation, saturating outside 1678–2262.
func unixNanos(t time.Time) int64 {
	switch {
	case t.Before(time.Unix(0, math.MinInt64)):
		return math.MinInt64
	case t.After(time.Unix(0, math.MaxInt64)):
		return math.MaxInt64
	}
	return t.UnixNano()
}

func (e *Emulator) auditQuery(rc *reqCtx) response {
	q := rc.r.URL.Query()
	offset, limit, fail := e.paging(rc, q)
	if fail != nil {
		return *fail
	}
	flt, err := fql.ParseAndCompile(q.Get("filter"), auditSchema, fql.Options{GreaterAsGreaterEqual: e.faults.greaterAsGreaterEqual()})
	if err != nil {
		return e.badRequest(rc, err.Error())
	}
	keys, fail := e.sortKeys(rc, q.Get("sort"), auditSchema, "timestamp.asc")
	if fail != nil {
		return *fail
	}
	t := rc.tenant
	t.promoteDue(rc.now)
	t.mu.RLock()
	defer t.mu.RUnlock()
	s := t.audit
	x := &s.index

	// The timestamp part of the filter becomes a binary-searched position range; only the residual (if any)
	// is evaluated, over that range.
	rng, residual := flt.Split(auditTimestamp)
	lo, hi := 0, x.len()
	if rng.HasLo {
		lo = x.lowerBound(s, unixNanos(rng.Lo))
	}
	if rng.HasHi {
		hi = max(lo, x.lowerBound(s, unixNanos(rng.Hi)))
	}
	byTime := len(keys) == 1 && keys[0].field == auditTimestamp
	var page []uint32
	var total int
	if residual == nil && byTime {
		total = hi - lo
		if keys[0].desc {
			page = x.pageDesc(s, make([]uint32, 0, limit), lo, hi, offset, limit)
		} else if offset < total {
			page = x.appendRange(make([]uint32, 0, limit), lo+offset, min(hi, lo+offset+limit))
		}
	} else {
		cands := x.appendRange(nil, lo, hi)
		if residual != nil {
			kept := cands[:0]
			for _, seq := range cands {
				if residual.Match(auditRec{s, seq}) {
					kept = append(kept, seq)
				}
			}
			cands = kept
		}
		switch {
		case byTime && keys[0].desc:
			cands = s.reorderDesc(cands)
		case !byTime:
			s.sortByKeys(cands, keys)
		}
		total = len(cands)
		page = cands[min(offset, total):min(offset+limit, total)]
	}
	return e.ok(rc, http.StatusOK, envelope{
		pagination: e.pagination(offset, limit, len(page), total), sizeHint: 35 * len(page),
		resources: func(b []byte) []byte {
			b = append(b, '[')
			for i, seq := range page {
				if i > 0 {
					b = append(b, ',')
				}
				b = append(b, '"')
				b = appendID(b, s.ids.encode(seq))
				b = append(b, '"')
			}
			return append(b, ']')
		},
	})
}

// sortByKeys orders seqs by the sort keys, then by id, comparing stored fields directly (token IDs as bytes,
// whose order is their hex order).
func (s *auditStore) sortByKeys(seqs []uint32, keys []sortKey) {
	type keyed struct {
		id  [16]byte
		seq uint32
	}
	ks := make([]keyed, len(seqs))
	for i, seq := range seqs {
		ks[i] = keyed{s.ids.encode(seq), seq}
	}
	field := func(k sortKey, a, b uint32) int {
		switch auditSchema[k.field].Name {
		case "action":
			return strings.Compare(s.act[a].String(), s.act[b].String())
		case "token_id":
			ra, rb := s.tok[a], s.tok[b]
			if ra < 0 || rb < 0 {
				return cmp.Compare(min(ra, 0), min(rb, 0)) // settings events have "" and sort first
			}
			return bytes.Compare(s.tokRefs[ra][:], s.tokRefs[rb][:])
		}
		return cmp.Compare(s.ts[a], s.ts[b])
	}
	slices.SortFunc(ks, func(a, b keyed) int {
		for _, k := range keys {
			c := field(k, a.seq, b.seq)
			if k.desc {
				c = -c
			}
			if c != 0 {
				return c
			}
		}
		return bytes.Compare(a.id[:], b.id[:])
	})
	for i, k := range ks {
		seqs[i] = k.seq
	}
}

func (e *Emulator) auditRead(rc *reqCtx) response {
	ids, fail := e.idsParam(rc)
	if fail != nil {
		return *fail
	}
	t := rc.tenant
	t.promoteDue(rc.now)
	t.mu.RLock()
	defer t.mu.RUnlock()
	s := t.audit
	seqs := make([]uint32, 0, len(ids))
	for _, id := range ids {
		if raw, ok := parseID(id); ok {
			if seq, ok := s.visible(raw); ok {
				seqs = append(seqs, seq)
			}
		}
	}
	if len(seqs) == 0 && e.cfg.NotFoundWhenNoneMatch {
		return e.notFound(rc, ids, "audit event")
	}
	return e.ok(rc, http.StatusOK, envelope{sizeHint: 300 * len(seqs), resources: func(b []byte) []byte {
		b = append(b, '[')
		for i, seq := range seqs {
			if i > 0 {
				b = append(b, ',')
			}
			b = append(b, `{"id":"`...)
			b = appendID(b, s.ids.encode(seq))
			b = append(b, `","action":"`...)
			b = append(b, s.act[seq].String()...)
			b = append(b, `","actor":`...)
			b = appendJSONString(b, s.strs[s.actor[seq]])
			b = append(b, `,"description":`...)
			b = s.description(seq).appendJSON(b)
			b = append(b, `,"timestamp":`...)
			b = e.appendTime(b, time.Unix(0, s.ts[seq]))
			b = append(b, `,"token_id":"`...)
			if ref := s.tok[seq]; ref >= 0 {
				b = appendID(b, s.tokRefs[ref])
			}
			b = append(b, `"}`...)
		}
		return append(b, ']')
	}})
}

func (e *Emulator) settingsObject(t *Tenant) func([]byte) []byte {
	st := t.settings
	return func(b []byte) []byte {
		b = append(b, '[', '{')
		if st.maxActive > 0 {
			b = append(b, `"max_active_tokens":`...)
			b = strconv.AppendInt(b, st.maxActive, 10)
			b = append(b, ',')
		}
		b = append(b, `"tokens_required":`...)
		b = strconv.AppendBool(b, st.tokensRequired)
		return append(b, '}', ']')
	}
}

func (e *Emulator) settingsRead(rc *reqCtx) response {
	t := rc.tenant
	t.mu.RLock()
	defer t.mu.RUnlock()
	return e.ok(rc, http.StatusOK, envelope{resources: e.settingsObject(t)})
}

func (e *Emulator) settingsUpdate(rc *reqCtx) response {
	m, fail := e.jsonBody(rc)
	if fail != nil {
		return *fail
	}
	var required *bool
	if raw, ok := m["tokens_required"]; ok {
		var v bool
		if isNull(raw) || json.Unmarshal(raw, &v) != nil {
			return e.badRequest(rc, "tokens_required must be a boolean")
		}
		required = &v
	}
	var maxActive *int64
	if raw, ok := m["max_active_tokens"]; ok {
		var v int64
		switch {
		case isNull(raw): // emulator decision: null removes the limit
		case json.Unmarshal(raw, &v) != nil:
			return e.badRequest(rc, "max_active_tokens must be an integer")
		case v <= 0:
			return e.badRequest(rc, fmt.Sprintf("max_active_tokens %d is invalid; it must be a positive integer", v))
		}
		maxActive = &v
	}
	t := rc.tenant
	t.mu.Lock()
	defer t.mu.Unlock()
	if err := t.settingsLocked(rc.client.ID, required, maxActive, 0); err != nil {
		return e.badRequest(rc, err.Error())
	}
	if e.cfg.LegacyWriteResponses {
		return e.ok(rc, http.StatusOK, envelope{resources: appendStringList([]string{t.cid})})
	}
	return e.ok(rc, http.StatusOK, envelope{resources: e.settingsObject(t)})
}
