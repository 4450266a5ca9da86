package falcontest

import (
	"math/rand/v2"
	"slices"
	"testing"
)

// checkIndex compares the blocked index with a sorted copy of the visible events.
func checkIndex(t *testing.T, s *auditStore) {
	t.Helper()
	x := &s.index
	all := x.appendRange(nil, 0, x.len())
	var want []uint32
	for seq := range uint32(s.len()) {
		if !s.isHidden(seq) {
			want = append(want, seq)
		}
	}
	slices.SortFunc(want, func(a, b uint32) int {
		if s.less(a, b) {
			return -1
		}
		return 1
	})
	if !slices.Equal(all, want) {
		t.Fatalf("index order differs from (timestamp, id) order (%d vs %d events)", len(all), len(want))
	}
	for i, b := range x.blocks {
		if len(b) > blockMax || x.cum[i+1]-x.cum[i] != len(b) {
			t.Fatalf("block %d: %d entries, cum %v", i, len(b), x.cum[i:i+2])
		}
	}
	for p := 0; p < len(all); p += 97 {
		if x.at(p) != all[p] {
			t.Fatalf("at(%d) = %d, want %d", p, x.at(p), all[p])
		}
	}
	for ts := int64(-1); ts <= 501; ts += 7 {
		got := x.lowerBound(s, ts*1e9)
		want, _ := slices.BinarySearchFunc(all, ts*1e9, func(seq uint32, t int64) int {
			if s.ts[seq] < t {
				return -1
			}
			return 1
		})
		if got != want {
			t.Fatalf("lowerBound(%d) = %d, want %d", ts, got, want)
		}
	}
}

func TestSortedIndexInsertsAndPromotion(t *testing.T) {
	s := newAuditStore(newEventIDs(1, "x"))
	r := rand.New(rand.NewPCG(1, 2))
	const now = int64(1e18)
	for i := range 20000 {
		ts := int64(r.IntN(500)) * 1e9 // heavy ties, inserts everywhere
		visibleAt := ts
		if i%3 == 0 {
			visibleAt = now + int64(r.IntN(1000))
		}
		s.add(ts, actTokenUpdate, 0, desc{kind: descRaw}, -1, visibleAt, now)
	}
	if len(s.pending) == 0 || len(s.index.blocks) < 3 {
		t.Fatalf("%d pending, %d blocks", len(s.pending), len(s.index.blocks))
	}
	checkIndex(t, s)
	s.promote(now + 500)
	checkIndex(t, s)
	s.promote(now + 1000)
	if len(s.pending) != 0 || s.index.len() != 20000 {
		t.Fatalf("after promotion: %d pending, %d indexed", len(s.pending), s.index.len())
	}
	checkIndex(t, s)

	// Descending pages, every offset and a few limits, against the reordered full list.
	all := s.index.appendRange(nil, 0, s.index.len())
	lo, hi := s.index.lowerBound(s, 100e9), s.index.lowerBound(s, 140e9)
	desc := s.reorderDesc(all[lo:hi])
	for off := 0; off < len(desc); off += 37 {
		for _, limit := range []int{1, 50, 1000} {
			got := s.index.pageDesc(s, nil, lo, hi, off, limit)
			if want := desc[off:min(off+limit, len(desc))]; !slices.Equal(got, want) {
				t.Fatalf("pageDesc(offset %d, limit %d) differs", off, limit)
			}
		}
	}
	// IDs round-trip; foreign IDs are rejected.
	for seq := range uint32(50) {
		if got, ok := s.visible(s.ids.encode(seq)); !ok || got != seq {
			t.Fatalf("id of %d decodes to %d, %v", seq, got, ok)
		}
	}
	other := newEventIDs(2, "x")
	if _, ok := s.visible(other.encode(3)); ok {
		t.Fatal("another tenant's event ID decoded")
	}
}
