package falcon

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
)

// API paths (all under /installation-tokens/).
const (
	pathTokensQuery      = "/installation-tokens/queries/tokens/v1"
	pathTokens           = "/installation-tokens/entities/tokens/v1"
	pathAuditEventsQuery = "/installation-tokens/queries/audit-events/v1"
	pathAuditEvents      = "/installation-tokens/entities/audit-events/v1"
	pathCustomerSettings = "/installation-tokens/entities/customer-settings/v1"
)

// Default sorts; the client always sends one because the service's default
// order is unconfirmed.
const (
	DefaultTokenSort = "created_timestamp.asc"
	DefaultAuditSort = "timestamp.asc"
)

// halveMin400 is the smallest ID batch that is halved after a 400: below it
// the URL cannot be the problem, so the 400 is reported.
const halveMin400 = 50

// Query selects IDs of tokens_query or audit_events_query. Zero values:
// no filter, the default sort of the endpoint, offset 0, Config.PageLimit.
type Query struct {
	Filter string // FQL, sent percent-encoded; see FQLString and friends
	Sort   string // e.g. "created_timestamp.desc"
	Offset int
	Limit  int // 1-1000
}

// QueryResult is one page of IDs. Offset and Limit are the values sent (the
// client ignores meta.pagination.offset); Total is meta.pagination.total, or
// -1 when the response had no pagination.
type QueryResult struct {
	IDs    []string
	Offset int
	Limit  int
	Total  int64
}

// QueryTokens runs tokens_query.
func (c *Client) QueryTokens(ctx context.Context, q Query) (QueryResult, error) {
	return c.query(ctx, "tokens_query", pathTokensQuery, DefaultTokenSort, q)
}

// QueryAuditEvents runs audit_events_query.
func (c *Client) QueryAuditEvents(ctx context.Context, q Query) (QueryResult, error) {
	return c.query(ctx, "audit_events_query", pathAuditEventsQuery, DefaultAuditSort, q)
}

// query checks the offset cap before sending: an offset at or beyond
// OffsetCap fails with ErrOffsetCap, a limit reaching past it is shortened.
func (c *Client) query(ctx context.Context, op, path, defaultSort string, q Query) (QueryResult, error) {
	limit := q.Limit
	if limit == 0 {
		limit = c.cfg.PageLimit
	}
	if limit < 0 || limit > MaxPageLimit {
		return QueryResult{}, fmt.Errorf("falcon %s: %w: limit %d outside 1-%d", op, ErrInvalidArgument, limit, MaxPageLimit)
	}
	if q.Offset < 0 {
		return QueryResult{}, fmt.Errorf("falcon %s: %w: negative offset %d", op, ErrInvalidArgument, q.Offset)
	}
	if cp := c.cfg.OffsetCap; cp > 0 {
		if q.Offset >= cp {
			return QueryResult{}, fmt.Errorf("falcon %s: %w: offset %d, cap %d", op, ErrOffsetCap, q.Offset, cp)
		}
		limit = min(limit, cp-q.Offset)
	}
	sort := q.Sort
	if sort == "" {
		sort = defaultSort
	}
	v := url.Values{}
	v.Set("offset", strconv.Itoa(q.Offset))
	v.Set("limit", strconv.Itoa(limit))
	v.Set("sort", sort)
	if q.Filter != "" {
		v.Set("filter", q.Filter)
	}
	resp, err := c.do(ctx, call{op: op, method: http.MethodGet, path: path, query: v})
	if err != nil {
		return QueryResult{}, err
	}
	ids, err := resp.env.strings()
	if err != nil {
		return QueryResult{}, invalid(op, resp, err)
	}
	res := QueryResult{IDs: ids, Offset: q.Offset, Limit: limit, Total: -1}
	if p := resp.env.Meta.Pagination; p != nil {
		res.Total = p.Total
	}
	return res, nil
}

func invalid(op string, resp *response, err error) error {
	return fmt.Errorf("falcon %s: %w (trace_id %s): %w", op, ErrInvalidResponse, resp.env.Meta.TraceID, err)
}

// GetTokens runs tokens_read for ids, in batches of Config.IDsPerRead (a
// batch answered 414, or 400 while longer than 50 IDs, is halved and
// retried). The result follows the order of ids (duplicates removed); IDs
// the API did not return, or answered 404 for, are absent: see Missing.
func (c *Client) GetTokens(ctx context.Context, ids []string) ([]Token, error) {
	return readByIDs(ctx, c, "tokens_read", pathTokens, ids, (*tokenWire).token, func(t Token) string { return t.ID })
}

// GetAuditEvents runs audit_events_read like GetTokens.
func (c *Client) GetAuditEvents(ctx context.Context, ids []string) ([]AuditEvent, error) {
	return readByIDs(ctx, c, "audit_events_read", pathAuditEvents, ids, (*auditWire).event, func(e AuditEvent) string { return e.ID })
}

// readByIDs reads ids in batches; W is the wire form of T, decoded in one
// pass per response.
func readByIDs[T, W any](ctx context.Context, c *Client, op, path string, ids []string,
	conv func(*W) T, idOf func(T) string) ([]T, error) {
	ids = dedupe(ids)
	found := make(map[string]T, len(ids))
	batch := int(c.readBatch.Load())
	for i := 0; i < len(ids); {
		n := min(batch, len(ids)-i)
		chunk := ids[i : i+n]
		items, err := readChunk[W](ctx, c, op, path, chunk)
		if err != nil {
			var apiErr *APIError
			if errors.As(err, &apiErr) && n > 1 &&
				(apiErr.StatusCode == http.StatusRequestURITooLong ||
					(apiErr.StatusCode == http.StatusBadRequest && n > halveMin400)) {
				batch = n / 2
				if apiErr.StatusCode == http.StatusRequestURITooLong {
					c.lowerReadBatch(batch) // unambiguous: remember for later reads
				}
				c.log.InfoContext(ctx, "falcon read batch halved", "operation", op,
					"status", apiErr.StatusCode, "batch", batch)
				continue
			}
			return nil, err
		}
		for i := range items {
			v := conv(&items[i])
			if id := idOf(v); id != "" {
				if _, dup := found[id]; !dup {
					found[id] = v
				}
			}
		}
		i += n
	}
	out := make([]T, 0, len(found))
	for _, id := range ids {
		if v, ok := found[id]; ok {
			out = append(out, v)
		}
	}
	if len(out) < len(found) {
		c.log.WarnContext(ctx, "falcon read returned IDs that were not requested; ignored",
			"operation", op, "count", len(found)-len(out))
	}
	return out, nil
}

func (c *Client) lowerReadBatch(n int) {
	for {
		cur := c.readBatch.Load()
		if int64(n) >= cur || c.readBatch.CompareAndSwap(cur, int64(n)) {
			return
		}
	}
}

// readChunk reads one batch; a 404 means none of them exist.
func readChunk[W any](ctx context.Context, c *Client, op, path string, ids []string) ([]W, error) {
	resp, err := c.do(ctx, call{op: op, method: http.MethodGet, path: path, query: url.Values{"ids": ids}})
	if err != nil {
		var apiErr *APIError
		if errors.As(err, &apiErr) && apiErr.StatusCode == http.StatusNotFound {
			return nil, nil
		}
		return nil, err
	}
	r := bytes.TrimSpace(resp.env.Resources)
	if len(r) == 0 || string(r) == "null" {
		return nil, nil
	}
	var items []W
	if err := json.Unmarshal(r, &items); err != nil {
		return nil, invalid(op, resp, err)
	}
	return items, nil
}

// CreateToken runs tokens_create and returns the new token (with its
// value). Create is not idempotent: a transport error or an unreadable 2xx
// is reported, not retried, because the token may exist already; 429, 401
// and 5xx answers are retried. A 409 (ErrConflict) means max_active_tokens
// is reached.
func (c *Client) CreateToken(ctx context.Context, in TokenCreate) (Token, error) {
	const op = "tokens_create"
	body, err := json.Marshal(in)
	if err != nil {
		return Token{}, fmt.Errorf("falcon %s: %w", op, err)
	}
	resp, err := c.do(ctx, call{op: op, method: http.MethodPost, path: pathTokens, body: body, unsafe: true})
	if err != nil {
		return Token{}, err
	}
	items, err := resp.env.items()
	if err != nil {
		return Token{}, invalid(op, resp, err)
	}
	if len(items) == 0 {
		return Token{}, invalid(op, resp, errors.New("no token in resources"))
	}
	var t Token
	if err := json.Unmarshal(items[0], &t); err != nil {
		return Token{}, invalid(op, resp, err)
	}
	return t, nil
}

// UpdateTokens runs tokens_update for ids (one request, IDs as CSV) and
// returns the updated tokens in the order of ids. Before the 2025 change the
// API answered with an ID list; then (or when resources is empty) the tokens
// are re-read with GetTokens. A 404 (ErrNotFound, APIError.Resources lists
// IDs) means an ID is unknown; the emulator then changes nothing.
func (c *Client) UpdateTokens(ctx context.Context, ids []string, patch TokenPatch) ([]Token, error) {
	const op = "tokens_update"
	ids = dedupe(ids)
	if len(ids) == 0 {
		return nil, fmt.Errorf("falcon %s: %w: no ids", op, ErrInvalidArgument)
	}
	if patch.empty() {
		return nil, fmt.Errorf("falcon %s: %w: empty patch", op, ErrInvalidArgument)
	}
	body, err := json.Marshal(patch)
	if err != nil {
		return nil, fmt.Errorf("falcon %s: %w", op, err)
	}
	resp, err := c.do(ctx, call{op: op, method: http.MethodPatch, path: pathTokens,
		query: url.Values{"ids": {strings.Join(ids, ",")}}, body: body})
	if err != nil {
		return nil, err
	}
	items, err := resp.env.items()
	if err != nil {
		return nil, invalid(op, resp, err)
	}
	found := make(map[string]Token, len(items))
	legacy := len(items) == 0
	for _, raw := range items {
		if _, ok := asString(raw); ok {
			legacy = true
			continue
		}
		var t Token
		if err := json.Unmarshal(raw, &t); err != nil {
			return nil, invalid(op, resp, err)
		}
		found[t.ID] = t
	}
	if legacy {
		var reread []string
		for _, id := range ids {
			if _, ok := found[id]; !ok {
				reread = append(reread, id)
			}
		}
		toks, err := c.GetTokens(ctx, reread)
		if err != nil {
			return nil, fmt.Errorf("falcon %s: re-reading updated tokens: %w", op, err)
		}
		for _, t := range toks {
			found[t.ID] = t
		}
	}
	out := make([]Token, 0, len(ids))
	for _, id := range ids {
		if t, ok := found[id]; ok {
			out = append(out, t)
		}
	}
	return out, nil
}

// DeleteTokens runs tokens_delete (IDs as CSV). Deleting is final. A 404
// means "already gone" and is not an error: when a multi-ID request gets a
// 404, the IDs not listed in its resources are deleted again (one by one if
// the 404 lists none), so known IDs are never left behind.
func (c *Client) DeleteTokens(ctx context.Context, ids []string) error {
	ids = dedupe(ids)
	if len(ids) == 0 {
		return fmt.Errorf("falcon tokens_delete: %w: no ids", ErrInvalidArgument)
	}
	return c.deleteTokens(ctx, ids)
}

func (c *Client) deleteTokens(ctx context.Context, ids []string) error {
	_, err := c.do(ctx, call{op: "tokens_delete", method: http.MethodDelete, path: pathTokens,
		query: url.Values{"ids": {strings.Join(ids, ",")}}})
	var apiErr *APIError
	if err == nil || !errors.As(err, &apiErr) || apiErr.StatusCode != http.StatusNotFound {
		return err
	}
	if len(ids) == 1 {
		return nil
	}
	gone := make(map[string]bool, len(apiErr.Resources))
	for _, id := range apiErr.Resources {
		gone[id] = true
	}
	var rest []string
	for _, id := range ids {
		if !gone[id] {
			rest = append(rest, id)
		}
	}
	switch {
	case len(rest) == 0:
		return nil
	case len(rest) < len(ids):
		return c.deleteTokens(ctx, rest)
	}
	for _, id := range ids {
		if err := c.deleteTokens(ctx, []string{id}); err != nil {
			return err
		}
	}
	return nil
}

// GetCustomerSettings runs customer_settings_read.
func (c *Client) GetCustomerSettings(ctx context.Context) (CustomerSettings, error) {
	const op = "customer_settings_read"
	resp, err := c.do(ctx, call{op: op, method: http.MethodGet, path: pathCustomerSettings})
	if err != nil {
		return CustomerSettings{}, err
	}
	items, err := resp.env.items()
	if err != nil {
		return CustomerSettings{}, invalid(op, resp, err)
	}
	if len(items) == 0 {
		return CustomerSettings{}, invalid(op, resp, errors.New("no settings in resources"))
	}
	var s CustomerSettings
	if err := json.Unmarshal(items[0], &s); err != nil {
		return CustomerSettings{}, invalid(op, resp, err)
	}
	return s, nil
}

// UpdateCustomerSettings runs customer_settings_update and returns the new
// settings; with a legacy ID-list (or empty) response it re-reads them.
func (c *Client) UpdateCustomerSettings(ctx context.Context, patch SettingsPatch) (CustomerSettings, error) {
	const op = "customer_settings_update"
	if patch.empty() {
		return CustomerSettings{}, fmt.Errorf("falcon %s: %w: empty patch", op, ErrInvalidArgument)
	}
	body, err := json.Marshal(patch)
	if err != nil {
		return CustomerSettings{}, fmt.Errorf("falcon %s: %w", op, err)
	}
	resp, err := c.do(ctx, call{op: op, method: http.MethodPatch, path: pathCustomerSettings, body: body})
	if err != nil {
		return CustomerSettings{}, err
	}
	items, err := resp.env.items()
	if err != nil {
		return CustomerSettings{}, invalid(op, resp, err)
	}
	if len(items) > 0 {
		if _, legacy := asString(items[0]); !legacy {
			var s CustomerSettings
			if err := json.Unmarshal(items[0], &s); err != nil {
				return CustomerSettings{}, invalid(op, resp, err)
			}
			return s, nil
		}
	}
	s, err := c.GetCustomerSettings(ctx)
	if err != nil {
		return CustomerSettings{}, fmt.Errorf("falcon %s: re-reading settings: %w", op, err)
	}
	return s, nil
}

// dedupe drops empty and repeated IDs, keeping the first occurrence.
func dedupe(ids []string) []string {
	seen := make(map[string]struct{}, len(ids))
	out := make([]string, 0, len(ids))
	for _, id := range ids {
		if id == "" {
			continue
		}
		if _, ok := seen[id]; !ok {
			seen[id] = struct{}{}
			out = append(out, id)
		}
	}
	return out
}
