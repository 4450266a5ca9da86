package sink

import (
	"log/slog"
	"math"
	"os"
	"runtime/debug"

	"github.com/KimMachineGun/automemlimit/memlimit"
)

// minMemoryBudget is the smallest Config.MemoryBudget New accepts: below
// it a batch would hold too few records to insert efficiently.
const minMemoryBudget = 16 << 20

// budget is how the sink's buffers divide Config.MemoryBudget (B):
//
//   - a batch flushes once its records' values reach B/10 bytes (or
//     BatchRows, or BatchAge). Two batches exist, one filling while the
//     other is inserted;
//   - an insert sends its batch in blocks of B/80 bytes: clickhouse-go
//     copies a block into column buffers of its own (reused from block to
//     block) and encodes it, so an insert adds about 4 × B/80 (buffers
//     grow by doubling) instead of a copy of the whole batch;
//   - a round of fetches, one per broker, asks for what decodes to about
//     B/32 bytes (at most 64 MiB) in all (fetchSizer: each request shrinks
//     by the number of brokers and the compression ratio seen); the fetch
//     loop works through one round while the client holds the next: 2 ×
//     B/32. A broker returns at least one whole record batch however large
//     (Kafka's message.max.bytes, 1 MiB by default, caps it);
//   - the rest is headroom for garbage not collected yet: the runtime's
//     soft limit (SetMemoryLimit) makes the collector keep it there.
type budget struct {
	batchBytes int
	blockBytes int
	fetchBytes int
}

// maxFetchBytes caps budget.fetchBytes below franz-go's largest response
// (BrokerMaxReadBytes, 100 MiB by default).
const maxFetchBytes = 64 << 20

func newBudget(total int64) budget {
	return budget{
		batchBytes: int(total / 10),
		blockBytes: int(total / 80),
		fetchBytes: int(min(total/32, maxFetchBytes)),
	}
}

// memoryLimitRatio is the share of a cgroup's memory limit given to the Go
// runtime's soft limit; the rest covers memory the runtime does not count
// (the binary's pages). budgetLimitRatio is the share of the budget: the
// sink's own buffers take up to 2/5 of it, and the
// collector keeps the heap, garbage included, under the rest (measured:
// with 90% the RSS reached the budget).
const memoryLimitRatio, budgetLimitRatio = 0.9, 0.8

// gcPercent replaces the runtime's default GOGC=100 while SetMemoryLimit's
// soft limit bounds the heap: the collector then runs when garbage reaches
// four times the live heap, or at the limit, whichever comes first, instead
// of at once the live heap. Measured on the sink benchmark (1M records,
// uncompressed batches of 5,000): 10% less CPU, peak RSS 90 -> 195 MiB of
// the default 256 MiB budget.
const gcPercent = 400

// SetMemoryLimit sets the Go runtime's soft memory limit for a process
// whose work is a sink with the given memory budget, and returns the limit
// and a function that restores what it replaced (when the sink runs inside
// another program, as in tests):
//
//   - GOMEMLIMIT, when set, is left as the runtime applied it;
//   - otherwise 80% of the budget, so that the process's RSS, which adds
//     the binary's pages to what the runtime counts, stays under the budget;
//     in a cgroup with a memory limit (a container, a systemd unit with
//     MemoryMax=), 90% of that limit (KimMachineGun/automemlimit) when it
//     is lower.
//
// Unless GOGC is set, it also sets the collector's target to gcPercent:
// the limit, not the target, then bounds the heap.
//
// It logs a warning when a GOMEMLIMIT or cgroup limit leaves the budget
// less room than that: the buffers would not fit, so lower the budget.
func SetMemoryLimit(budget int64, log *slog.Logger) (limit int64, restore func()) {
	if log == nil {
		log = slog.Default()
	}
	previous := debug.SetMemoryLimit(-1)
	source := "GOMEMLIMIT"
	if env := os.Getenv("GOMEMLIMIT"); env != "" {
		limit = previous
	} else {
		cgroup, err := memlimit.FromCgroup()
		if err != nil {
			log.Debug("no cgroup memory limit", "err", err)
		}
		limit, source = softLimit(budget, cgroup)
		debug.SetMemoryLimit(limit)
	}
	restoreGC := func() {}
	if os.Getenv("GOGC") == "" {
		previousGC := debug.SetGCPercent(gcPercent)
		restoreGC = func() { debug.SetGCPercent(previousGC) }
	}
	log.Debug("Go memory limit set", "limit_mib", limit>>20, "from", source, "memory_budget_mib", budget>>20, "gogc_set", os.Getenv("GOGC") != "")
	if limit < int64(float64(budget)*budgetLimitRatio) {
		log.Warn("the memory limit leaves the sink's memory budget too little room: lower the budget to about 3/4 of the limit",
			"limit_mib", limit>>20, "from", source, "memory_budget_mib", budget>>20)
	}
	return limit, func() {
		debug.SetMemoryLimit(previous)
		restoreGC()
	}
}

// softLimit is the runtime's soft limit for a budget and a cgroup memory
// limit (0: none): 80% of the budget, or 90% of the cgroup's limit when
// that is lower. A larger cgroup does not raise it: the sink's memory is
// bounded by its own budget.
func softLimit(budget int64, cgroup uint64) (int64, string) {
	fromBudget := int64(float64(budget) * budgetLimitRatio)
	if cgroup > 0 && cgroup < math.MaxInt64 {
		if l := int64(float64(cgroup) * memoryLimitRatio); l < fromBudget {
			return l, "cgroup"
		}
	}
	return fromBudget, "memory budget"
}

// blockRows is how many rows of b an insert sends per block: blockBytes
// worth at b's mean record size.
func (bu budget) blockRows(b *batch) int {
	if b.bytes <= bu.blockBytes {
		return max(b.records, 1)
	}
	return max(int(int64(b.records)*int64(bu.blockBytes)/int64(b.bytes)), 1)
}
