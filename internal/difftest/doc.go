// Package difftest holds the differential test of the project's SQL: every
// section of every report in queries/, run with the same bound parameters
// over the same rows on ClickHouse 18.16 (a private server, native protocol
// through clickhouse-go) and on ClickHouse 26.7 (chDB, internal/chdbtest),
// must give equal results. The text run on 26.7 is the text clickhouse-go
// sent to the 18.16 server, parameters bound, as the driver logged it.
//
// The tests need the chDB library and the "chdb" build tag; `make test` sets
// both. See docs/sql-compat.md.
package difftest
