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
