package sink

import (
	"time"

	"github.com/segmentio/kafka-go"
)

// batch is what one flush writes: column buffers per table, the dead
// letters, and the last message of each partition to commit afterwards.
// Two batches circulate between the fetch and insert goroutines and are
// reused, so their buffers are allocated once.
type batch struct {
	audit    auditColumns
	tokens   tokenColumns
	settings settingsColumns
	coverage coverageColumns

	deadLetters []deadLetter
	commits     []kafka.Message // topic, partition and offset only
	records     int             // records fetched into this batch
	bytes       int             // their values' bytes
	started     time.Time       // when the first record arrived
	seq         uint64          // bumped by reset
}

type deadLetter struct {
	msg    kafka.Message // as written to the dead-letter topic
	topic  string        // source topic
	reason string        // metric label
}

func (b *batch) reset() {
	b.audit.reset()
	b.tokens.reset()
	b.settings.reset()
	b.coverage.reset()
	clear(b.deadLetters) // release the message values
	b.deadLetters = b.deadLetters[:0]
	b.commits = b.commits[:0]
	b.records, b.bytes = 0, 0
	b.started = time.Time{}
	b.seq++
}
