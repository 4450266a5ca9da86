package falcontest

import (
	"bytes"
	"container/heap"
	"slices"
	"sort"
	"time"
)

// action is an audit event's action, stored in one byte.
type action uint8

const (
	actTokenCreate action = iota
	actTokenUpdate
	actTokenRevoke
	actTokenRestore
	actTokenDelete
	actSettingsUpdate
)

var actionNames = [...]string{
	actTokenCreate:    "token_create",
	actTokenUpdate:    "token_update",
	actTokenRevoke:    "token_revoke",
	actTokenRestore:   "token_restore",
	actTokenDelete:    "token_delete",
	actSettingsUpdate: "customer_settings_update",
}

func (a action) String() string { return actionNames[a] }

// descKind says how an event's description is generated from its fields, so the million descriptions of a
// big tenant cost a few bytes each instead of a string each.
type descKind uint8

const (
	descRaw           descKind = iota // strs[desc]
	descCreated                       // token <strs[desc]> created
	descDeleted                       // token <strs[desc]> deleted
	descRevoked                       // token <strs[desc]> revoked
	descRestored                      // token <strs[desc]> restored
	descRenamed                       // token <strs[desc]> renamed to <strs[arg]>
	descExpirySet                     // token <strs[desc]> expiry set to <arg as unix seconds>
	descExpiryRemoved                 // token <strs[desc]> expiry removed
)

// desc describes an event's description before it is stored.
type desc struct {
	kind   descKind
	label  string    // raw text for descRaw
	label2 string    // descRenamed
	at     time.Time // descExpirySet
}

// appendJSON appends the description as a JSON string without building it first.
func (d desc) appendJSON(b []byte) []byte {
	b = append(b, '"')
	if d.kind == descRaw {
		b = appendEscaped(b, d.label)
		return append(b, '"')
	}
	b = append(b, "token "...)
	b = appendEscaped(b, d.label)
	switch d.kind {
	case descCreated:
		b = append(b, " created"...)
	case descDeleted:
		b = append(b, " deleted"...)
	case descRevoked:
		b = append(b, " revoked"...)
	case descRestored:
		b = append(b, " restored"...)
	case descRenamed:
		b = append(b, " renamed to "...)
		b = appendEscaped(b, d.label2)
	case descExpirySet:
		b = append(b, " expiry set to "...)
		b = d.at.UTC().AppendFormat(b, time.RFC3339)
	case descExpiryRemoved:
		b = append(b, " expiry removed"...)
	}
	return append(b, '"')
}

func (d desc) String() string {
	switch d.kind {
	case descCreated:
		return "token " + d.label + " created"
	case descDeleted:
		return "token " + d.label + " deleted"
	case descRevoked:
		return "token " + d.label + " revoked"
	case descRestored:
		return "token " + d.label + " restored"
	case descRenamed:
		return "token " + d.label + " renamed to " + d.label2
	case descExpirySet:
		return "token " + d.label + " expiry set to " + d.at.UTC().Format(time.RFC3339)
	case descExpiryRemoved:
		return "token " + d.label + " expiry removed"
	}
	return d.label
}

// auditStore holds a tenant's audit events compactly (about 25 bytes per event plus shared strings).
//
// Events are numbered by seq in insertion order; their attributes live in parallel slices indexed by seq,
// and their IDs are computed from seq (eventIDs). Visible events are also kept in index, ordered by
// (timestamp, id), so a timestamp range is found by binary search and a page costs O(log n + page).
// Events that are not visible yet (late arrivals) wait in pending, a heap by visibility time, and move into
// the index once the clock reaches it; no query scans them.
type auditStore struct {
	ids *eventIDs

	ts    []int64 // unix nanoseconds
	act   []action
	dkind []descKind
	actor []uint32 // into strs
	desc  []uint32 // into strs: the label, or the whole text for descRaw
	arg   []uint32 // descRenamed: new label in strs; descExpirySet: unix seconds
	tok   []int32  // into tokRefs; -1 for settings events

	strs    []string
	tokRefs [][16]byte // IDs of every token ever referenced (deleted ones included)

	index   sortedIndex
	pending pendingHeap
	hidden  []uint64         // bitset by seq: in pending
	late    map[uint32]int64 // seq → visibility time, for events that arrived late
}

func newAuditStore(ids *eventIDs) *auditStore {
	return &auditStore{ids: ids, late: map[uint32]int64{}, index: sortedIndex{cum: []int{0}}}
}

func (s *auditStore) len() int { return len(s.ts) }

func (s *auditStore) intern(str string) uint32 {
	// Runtime events are few; seeding interns through its own map (see seeder).
	s.strs = append(s.strs, str)
	return uint32(len(s.strs) - 1)
}

// description regenerates an event's description.
func (s *auditStore) description(seq uint32) desc {
	d := desc{kind: s.dkind[seq], label: s.strs[s.desc[seq]]}
	switch d.kind {
	case descRenamed:
		d.label2 = s.strs[s.arg[seq]]
	case descExpirySet:
		d.at = time.Unix(int64(s.arg[seq]), 0)
	}
	return d
}

// setDesc stores d for event seq; intern maps a string to its strs index.
func (s *auditStore) setDesc(seq uint32, d desc, intern func(string) uint32) {
	s.dkind[seq] = d.kind
	s.desc[seq] = intern(d.label)
	switch d.kind {
	case descRenamed:
		s.arg[seq] = intern(d.label2)
	case descExpirySet:
		s.arg[seq] = uint32(d.at.Unix())
	}
}

func (s *auditStore) isHidden(seq uint32) bool {
	w := int(seq / 64)
	return w < len(s.hidden) && s.hidden[w]&(1<<(seq%64)) != 0
}

func (s *auditStore) setHidden(seq uint32, on bool) {
	w := int(seq / 64)
	for len(s.hidden) <= w {
		s.hidden = append(s.hidden, 0)
	}
	if on {
		s.hidden[w] |= 1 << (seq % 64)
	} else {
		s.hidden[w] &^= 1 << (seq % 64)
	}
}

// add appends an event; it becomes visible when now reaches visibleAt.
func (s *auditStore) add(ts int64, a action, actor uint32, d desc, tok int32, visibleAt, now int64) uint32 {
	seq := uint32(len(s.ts))
	s.ts = append(s.ts, ts)
	s.act = append(s.act, a)
	s.actor = append(s.actor, actor)
	s.dkind = append(s.dkind, 0)
	s.desc = append(s.desc, 0)
	s.arg = append(s.arg, 0)
	s.tok = append(s.tok, tok)
	s.setDesc(seq, d, s.intern)
	if visibleAt > ts {
		s.late[seq] = visibleAt
	}
	if visibleAt > now {
		s.setHidden(seq, true)
		heap.Push(&s.pending, pendingEvent{at: visibleAt, seq: seq})
	} else {
		s.index.insert(s, seq)
	}
	return seq
}

// due reports whether some pending event is visible at now.
func (s *auditStore) due(now int64) bool { return len(s.pending) > 0 && s.pending[0].at <= now }

// promote moves every event visible at now from pending into the index.
func (s *auditStore) promote(now int64) {
	for s.due(now) {
		p := heap.Pop(&s.pending).(pendingEvent)
		s.setHidden(p.seq, false)
		s.index.insert(s, p.seq)
	}
}

// visible returns the seq of a visible event with the given ID.
func (s *auditStore) visible(id [16]byte) (uint32, bool) {
	seq, ok := s.ids.decode(id)
	if !ok || int(seq) >= len(s.ts) || s.isHidden(seq) {
		return 0, false
	}
	return seq, true
}

// less orders events by (timestamp, id).
func (s *auditStore) less(a, b uint32) bool {
	if s.ts[a] != s.ts[b] {
		return s.ts[a] < s.ts[b]
	}
	ia, ib := s.ids.encode(a), s.ids.encode(b)
	return bytes.Compare(ia[:], ib[:]) < 0
}

// sortTies orders seqs (already sorted by timestamp) by (timestamp, id), sorting only runs of equal
// timestamps.
func (s *auditStore) sortTies(seqs []uint32) {
	type keyed struct {
		id  [16]byte
		seq uint32
	}
	var buf []keyed
	for i := 0; i < len(seqs); {
		j := i + 1
		for j < len(seqs) && s.ts[seqs[j]] == s.ts[seqs[i]] {
			j++
		}
		if j-i > 1 {
			buf = buf[:0]
			for _, q := range seqs[i:j] {
				buf = append(buf, keyed{s.ids.encode(q), q})
			}
			slices.SortFunc(buf, func(a, b keyed) int { return bytes.Compare(a.id[:], b.id[:]) })
			for k, kq := range buf {
				seqs[i+k] = kq.seq
			}
		}
		i = j
	}
}

type pendingEvent struct {
	at  int64
	seq uint32
}

type pendingHeap []pendingEvent

func (h pendingHeap) Len() int { return len(h) }
func (h pendingHeap) Less(i, j int) bool {
	return h[i].at < h[j].at || (h[i].at == h[j].at && h[i].seq < h[j].seq)
}
func (h pendingHeap) Swap(i, j int) { h[i], h[j] = h[j], h[i] }
func (h *pendingHeap) Push(x any)   { *h = append(*h, x.(pendingEvent)) }
func (h *pendingHeap) Pop() any {
	old := *h
	x := old[len(old)-1]
	*h = old[:len(old)-1]
	return x
}

// sortedIndex is an ordered sequence of seqs split into blocks, so inserting in the middle moves at most
// one block, and a position is found by binary search over the blocks' cumulative sizes.
type sortedIndex struct {
	blocks [][]uint32
	cum    []int // cum[i] = number of seqs in blocks[:i]; len(cum) = len(blocks)+1
}

const (
	blockFill = 2048 // initial block size when building
	blockMax  = 4096 // a block splits in two above this
)

func (x *sortedIndex) len() int { return x.cum[len(x.cum)-1] }

// build replaces the index with seqs, which must already be ordered.
func (x *sortedIndex) build(seqs []uint32) {
	x.blocks = x.blocks[:0]
	for len(seqs) > 0 {
		n := min(blockFill, len(seqs))
		b := make([]uint32, n, n+n/4)
		copy(b, seqs[:n])
		x.blocks = append(x.blocks, b)
		seqs = seqs[n:]
	}
	x.recount(0)
}

func (x *sortedIndex) recount(from int) {
	x.cum = x.cum[:min(from+1, len(x.cum))]
	if len(x.cum) == 0 {
		x.cum = append(x.cum, 0)
	}
	for i := len(x.cum) - 1; i < len(x.blocks); i++ {
		x.cum = append(x.cum, x.cum[i]+len(x.blocks[i]))
	}
}

func (x *sortedIndex) insert(s *auditStore, seq uint32) {
	if len(x.blocks) == 0 {
		x.blocks = append(x.blocks, make([]uint32, 0, blockFill))
	}
	// The block to insert into: the first whose last element sorts after seq, else the last block.
	bi := sort.Search(len(x.blocks), func(i int) bool {
		b := x.blocks[i]
		return len(b) > 0 && s.less(seq, b[len(b)-1])
	})
	if bi == len(x.blocks) {
		bi--
	}
	b := x.blocks[bi]
	j := sort.Search(len(b), func(k int) bool { return s.less(seq, b[k]) })
	b = slices.Insert(b, j, seq)
	x.blocks[bi] = b
	if len(b) > blockMax {
		half := len(b) / 2
		right := make([]uint32, len(b)-half, blockMax)
		copy(right, b[half:])
		x.blocks[bi] = b[:half]
		x.blocks = slices.Insert(x.blocks, bi+1, right)
	}
	x.recount(bi)
}

// at returns the seq at a position.
func (x *sortedIndex) at(p int) uint32 {
	bi := sort.Search(len(x.blocks), func(i int) bool { return x.cum[i+1] > p })
	return x.blocks[bi][p-x.cum[bi]]
}

// lowerBound returns the position of the first event with timestamp ≥ t.
func (x *sortedIndex) lowerBound(s *auditStore, t int64) int {
	bi := sort.Search(len(x.blocks), func(i int) bool {
		b := x.blocks[i]
		return len(b) > 0 && s.ts[b[len(b)-1]] >= t
	})
	if bi == len(x.blocks) {
		return x.len()
	}
	b := x.blocks[bi]
	return x.cum[bi] + sort.Search(len(b), func(k int) bool { return s.ts[b[k]] >= t })
}

// appendRange appends the seqs at positions [from, to) to out.
func (x *sortedIndex) appendRange(out []uint32, from, to int) []uint32 {
	if from >= to {
		return out
	}
	bi := sort.Search(len(x.blocks), func(i int) bool { return x.cum[i+1] > from })
	off := from - x.cum[bi]
	for n := to - from; n > 0; bi, off = bi+1, 0 {
		b := x.blocks[bi][off:]
		if len(b) > n {
			b = b[:n]
		}
		out = append(out, b...)
		n -= len(b)
	}
	return out
}

// pageDesc appends up to limit seqs of the positions [lo, hi), skipping offset, in the order (timestamp
// descending, id ascending). hi-lo must not cut a group of equal timestamps except at the range's edges,
// which holds for any timestamp range.
func (x *sortedIndex) pageDesc(s *auditStore, out []uint32, lo, hi, offset, limit int) []uint32 {
	if offset >= hi-lo || limit <= 0 {
		return out
	}
	group := func(p int) (gs, ge int) {
		t := s.ts[x.at(p)]
		return max(lo, x.lowerBound(s, t)), min(hi, x.lowerBound(s, t+1))
	}
	// The element at descending index k lies in the same group as ascending position hi-1-k.
	gs, ge := group(hi - 1 - offset)
	pos := gs + offset - (hi - ge)
	for {
		n := min(ge-pos, limit)
		out = x.appendRange(out, pos, pos+n)
		limit -= n
		if limit == 0 || gs == lo {
			return out
		}
		ge = gs
		gs, _ = group(gs - 1)
		pos = gs
	}
}

// reorderDesc reorders seqs sorted by (timestamp, id) into (timestamp descending, id ascending).
func (s *auditStore) reorderDesc(seqs []uint32) []uint32 {
	out := make([]uint32, 0, len(seqs))
	for end := len(seqs); end > 0; {
		start := end - 1
		for start > 0 && s.ts[seqs[start-1]] == s.ts[seqs[end-1]] {
			start--
		}
		out = append(out, seqs[start:end]...)
		end = start
	}
	return out
}

// record is the exported view of one event.
func (s *auditStore) record(seq uint32) AuditEvent {
	ev := AuditEvent{
		ID:          idString(s.ids.encode(seq)),
		Action:      s.act[seq].String(),
		Actor:       s.strs[s.actor[seq]],
		Description: s.description(seq).String(),
		Timestamp:   time.Unix(0, s.ts[seq]).UTC(),
	}
	if r := s.tok[seq]; r >= 0 {
		ev.TokenID = idString(s.tokRefs[r])
	}
	ev.VisibleAt = ev.Timestamp
	if v, ok := s.late[seq]; ok {
		ev.VisibleAt = time.Unix(0, v).UTC()
	}
	return ev
}

// AuditEvent is one audit event as the API serves it, plus when it becomes (or became) visible.
type AuditEvent struct {
	ID, Action, Actor, Description, TokenID string
	Timestamp                               time.Time
	// VisibleAt is when the event starts appearing in queries and reads; after Timestamp for late arrivals.
	VisibleAt time.Time
}
