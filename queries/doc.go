// Package queries holds tokentrail's review reports: one SQL file per report,
// embedded in the binary, and the code that parses their headers, resolves
// their typed parameters and runs them through clickhouse-go.
//
// A report file starts with a header naming the report, describing the
// question it answers and declaring its parameters with types and defaults;
// it continues with named sections, each a single SELECT producing one
// result table. See Parse for the format.
//
// Parameters reach ClickHouse only as bound arguments (@name with
// clickhouse.Named): no value is ever spliced into SQL text here. The SQL
// is written to the intersection of ClickHouse 18.16 and current versions:
// no CTEs, window functions, DateTime64 or WITH FILL; deduplication of the
// ReplacingMergeTree tables with FINAL.
//
// Conventions shared by every report:
//   - tenant selects the Falcon tenant; now is the reference time for ages,
//     staleness and states (the current time unless set, which makes output
//     reproducible); since/until bound the review period [since, until).
//   - A token is valid at now when it is not deleted, not revoked (status or
//     revoked_timestamp), not expired (status or expires_timestamp <= now).
//   - Usage is inferred from token_changes: every distinct
//     last_used_timestamp a collection observed is one use. Uses between two
//     collections collapse into the last one.
package queries
