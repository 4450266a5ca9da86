package schema

import (
	"runtime"
	"testing"
	"time"
)

// Filling buffers from empty allocates about twice what buffers sized
// beforehand take (doubling), not five times (append's growth by a quarter
// for large slices): the sink's first batch would otherwise allocate more
// than all its records' strings.
func TestColumnsGrowByDoubling(t *testing.T) {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	ev := &AuditEvent{Envelope: NewEnvelope(TypeAuditEvent, "0123456789abcdef0123456789abcdef", "t", now), ID: "a", Timestamp: now}
	const rows = 100_000
	allocated := func(presize bool) uint64 {
		var cols Columns[AuditEvent]
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		if presize {
			cols.init()
			cols.grow(rows)
		}
		for range rows {
			if err := cols.Append(ev); err != nil {
				t.Fatal(err)
			}
		}
		runtime.ReadMemStats(&after)
		if cols.Len() != rows {
			t.Fatalf("%d rows, want %d", cols.Len(), rows)
		}
		return after.TotalAlloc - before.TotalAlloc
	}
	exact, grown := allocated(true), allocated(false)
	t.Logf("%d rows: %d MiB allocated in buffers sized beforehand, %d MiB filling them from empty", rows, exact>>20, grown>>20)
	if grown > 3*exact {
		t.Errorf("filling from empty allocated %.1f times the buffers sized beforehand, want at most 3", float64(grown)/float64(exact))
	}
	// Reset keeps the buffers: refilling allocates nothing.
	var cols Columns[AuditEvent]
	for range rows {
		_ = cols.Append(ev)
	}
	cols.Reset()
	if n := testing.AllocsPerRun(1, func() {
		for range rows {
			_ = cols.Append(ev)
		}
		cols.Reset()
	}); n != 0 {
		t.Errorf("refilling after Reset allocated %v times", n)
	}
}
