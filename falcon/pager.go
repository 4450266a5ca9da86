package falcon

import (
	"context"
	"fmt"
)

// QueryFunc runs one query page; Client.QueryTokens and
// Client.QueryAuditEvents have this signature.
type QueryFunc func(ctx context.Context, q Query) (QueryResult, error)

// PagerConfig bounds a Pager. Zero values: DefaultPageLimit and
// DefaultOffsetCap; OffsetCap < 0 disables the cap.
type PagerConfig struct {
	PageLimit int
	OffsetCap int
}

// Pager walks offset/limit pages of a query:
//
//	p := client.TokenPager(falcon.Query{Filter: f})
//	for p.Next(ctx) {
//		ids := p.IDs()
//	}
//	if err := p.Err(); errors.Is(err, falcon.ErrOffsetCap) {
//		// more matches than offsets can reach: narrow the filter window
//	}
//
// The next offset is offset + len(IDs) (meta.pagination.offset is ignored),
// short pages do not end the walk, an empty page or next >= total does. The
// pager never requests offset+limit above the cap: when matches remain
// beyond it, Next returns false and Err matches ErrOffsetCap.
type Pager struct {
	query QueryFunc
	q     Query
	cfg   PagerConfig

	next  int
	total int64
	ids   []string
	done  bool
	err   error
}

// NewPager returns a Pager over query for q; q.Offset is the first offset
// and q.Limit (default cfg.PageLimit) the page size.
func NewPager(query QueryFunc, q Query, cfg PagerConfig) *Pager {
	if cfg.PageLimit <= 0 || cfg.PageLimit > MaxPageLimit {
		cfg.PageLimit = DefaultPageLimit
	}
	if cfg.OffsetCap == 0 {
		cfg.OffsetCap = DefaultOffsetCap
	}
	if q.Limit <= 0 || q.Limit > MaxPageLimit {
		q.Limit = cfg.PageLimit
	}
	return &Pager{query: query, q: q, cfg: cfg, next: max(q.Offset, 0), total: -1}
}

// TokenPager pages tokens_query with the client's PageLimit and OffsetCap.
func (c *Client) TokenPager(q Query) *Pager {
	return NewPager(c.QueryTokens, q, PagerConfig{PageLimit: c.cfg.PageLimit, OffsetCap: c.cfg.OffsetCap})
}

// AuditEventPager pages audit_events_query with the client's PageLimit and
// OffsetCap.
func (c *Client) AuditEventPager(q Query) *Pager {
	return NewPager(c.QueryAuditEvents, q, PagerConfig{PageLimit: c.cfg.PageLimit, OffsetCap: c.cfg.OffsetCap})
}

// Next fetches the next page and reports whether it holds IDs.
func (p *Pager) Next(ctx context.Context) bool {
	p.ids = nil
	if p.done {
		return false
	}
	if p.total >= 0 && int64(p.next) >= p.total {
		p.done = true
		return false
	}
	limit := p.q.Limit
	if cp := p.cfg.OffsetCap; cp > 0 {
		if p.next >= cp {
			p.done = true
			if p.total >= 0 {
				p.err = fmt.Errorf("%w: offset %d reached the cap %d of %d matches", ErrOffsetCap, p.next, cp, p.total)
			} else {
				p.err = fmt.Errorf("%w: offset %d reached the cap %d, more matches may remain", ErrOffsetCap, p.next, cp)
			}
			return false
		}
		limit = min(limit, cp-p.next)
	}
	q := p.q
	q.Offset, q.Limit = p.next, limit
	res, err := p.query(ctx, q)
	if err != nil {
		p.done = true
		p.err = err
		return false
	}
	p.total = res.Total
	if len(res.IDs) == 0 {
		p.done = true
		return false
	}
	p.ids = res.IDs
	p.next += len(res.IDs)
	return true
}

// IDs returns the page fetched by the last successful Next.
func (p *Pager) IDs() []string { return p.ids }

// Offset returns the offset of the next page.
func (p *Pager) Offset() int { return p.next }

// Total returns meta.pagination.total of the last page (-1 before the first
// page or when the API sent none).
func (p *Pager) Total() int64 { return p.total }

// Err returns the error that ended the walk; nil when it ran to the end.
func (p *Pager) Err() error { return p.err }

// PagerConfig returns the client's page size and offset cap: the one
// place callers that page queries themselves take them from.
func (c *Client) PagerConfig() PagerConfig {
	return PagerConfig{PageLimit: c.cfg.PageLimit, OffsetCap: c.cfg.OffsetCap}
}
