// Package sink consumes the tokentrail topics and writes them to ClickHouse.
//
// One consumer group reads the audit-event, token and settings topics,
// with franz-go (kgo) rather than the kafka-go the rest of tokentrail uses:
// kafka-go's Reader hands records over one at a time through a channel and
// copies each value, which cost the sink about 40% of its CPU (see
// consumer.go). A fetch loop decodes records into column buffers; a flush loop
// inserts each batch (one PrepareBatch per table, explicit column lists)
// and then commits the batch's offsets. A batch is handed off when it holds
// Config.BatchRows records, or 1/10 of Config.MemoryBudget in record bytes,
// or is Config.BatchAge old. Only two batches exist, so when ClickHouse is
// slow or down the fetch loop waits for a free batch, stops polling, the
// Kafka client's buffered fetches (one per broker) fill and fetching stops:
// memory stays bounded by the budget whatever the producer's batching,
// compression and record sizes (the sizing rule is in budget.go and
// docs/design.md). SetMemoryLimit sets the Go runtime's soft limit to
// match, for a process that runs a sink.
//
// Delivery is at least once. Offsets are committed only after every insert
// and dead-letter write of their batch succeeded; retryable ClickHouse and
// network errors are retried with backoff from the rows in memory, without
// re-reading Kafka. A redelivered record (after a crash, a rebalance or a
// failed commit) is inserted again and absorbed by the tables'
// ReplacingMergeTree keys: audit_events and tokens by (tenant, id),
// token_changes by (tenant, id, version), settings_changes by (tenant,
// version), where version is collected_at in Unix nanoseconds.
//
// Records are routed by their record_type: audit_event to audit_events,
// token to both tokens (current state) and token_changes (history),
// settings to settings_changes. A valid record on another type's topic is
// still written where its type belongs, and counted in
// tokentrail_sink_wrong_topic_records_total: it is self-describing, so
// nothing is gained by dead-lettering it.
//
// Drain (ingest sink --once) is Run plus a watcher: it reads the end offset
// of every partition when it starts, and the watcher stops the run once the
// group's committed offsets reach them, whichever member of the group
// committed. It assumes the last offset of a partition holds a record, as
// on the plain topics the collector writes (a compacted or transactional
// topic could end on a gap the group never commits past). While draining,
// the fetch loop hands off a batch as soon as no record arrived for 50 ms,
// and the watcher logs, at info level, the partitions not committed yet.
// When the group's committed offsets do not advance for SessionTimeout +
// RebalanceTimeout + BatchAge, the watcher has the fetch loop rejoin the
// group with a new member: a member that died while joining can be
// assigned partitions it never commits, and the coordinator drops members
// that do not rejoin.
//
// A record that cannot be decoded or validated (invalid JSON, unknown
// record_type, a schema_version newer than this build, a field failing
// validation, or a timestamp outside what ClickHouse DateTime stores) goes
// to the dead-letter topic with headers naming its source topic, partition,
// offset and the error, and the sink goes on. If that write fails, the sink
// stops with an error and commits nothing, rather than drop the record.
package sink
