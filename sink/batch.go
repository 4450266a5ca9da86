package sink

import (
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/tokentrail/tokentrail/schema"
)

// batch is what one flush writes: column buffers per table, the dead
// letters, and the last message of each partition to commit afterwards.
// Two batches circulate between the fetch and insert goroutines and are
// reused, so their buffers are allocated once.
type batch struct {
	// Column buffers, one per record type (schema.Columns is the row
	// mapping).
	audit    schema.Columns[schema.AuditEvent]
	tokens   schema.Columns[schema.Token]
	settings schema.Columns[schema.Settings]
	coverage schema.Columns[schema.Coverage]

	deadLetters []deadLetter
	commits     []offset  // each partition's last record
	records     int       // records fetched into this batch
	bytes       int       // their values' bytes
	started     time.Time // when the first record arrived
	seq         uint64    // bumped by reset
}

type deadLetter struct {
	msg    kafka.Message // as written to the dead-letter topic
	topic  string        // source topic
	reason string        // metric label
}

// sizes are a batch's rows per record type.
type sizes struct{ audit, tokens, settings, coverage int }

func (b *batch) sizes() sizes {
	return sizes{b.audit.Len(), b.tokens.Len(), b.settings.Len(), b.coverage.Len()}
}

// grow makes room in an empty batch for the rows of the batch before it:
// column buffers grown one doubling at a time cost more than the rest of
// appending (copies, and write barriers while the collector runs).
func (b *batch) grow(like sizes) {
	b.audit.Grow(like.audit)
	b.tokens.Grow(like.tokens)
	b.settings.Grow(like.settings)
	b.coverage.Grow(like.coverage)
}

func (b *batch) reset() {
	b.audit.Reset()
	b.tokens.Reset()
	b.settings.Reset()
	b.coverage.Reset()
	clear(b.deadLetters) // release the message values
	b.deadLetters = b.deadLetters[:0]
	b.commits = b.commits[:0]
	b.records, b.bytes = 0, 0
	b.started = time.Time{}
	b.seq++
}
