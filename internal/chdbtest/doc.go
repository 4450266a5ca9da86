// Package chdbtest runs SQL on a current ClickHouse (26.7) embedded in the
// test process as chDB, so that tests can hold the project's SQL to both the
// Debian 18.16 server (internal/chtest) and a current release.
//
// chDB is libchdb.so, loaded by github.com/chdb-io/chdb-go through purego
// (no cgo). chdb-go panics in its init when the library is missing, so only
// test files built with the "chdb" tag import this package, and no
// production binary links it. `make test` installs the library
// (deploy/local/chdb.sh install) and runs `go test -tags chdb` with
// CHDB_LIB_PATH pointing at it. By hand:
//
//	deploy/local/chdb.sh install
//	CHDB_LIB_PATH=$(deploy/local/chdb.sh path) go test -tags chdb ./internal/difftest/
//
// A Conn implements the part of clickhouse-go's driver.Conn that
// schema/migrate, queries/querytest and queries use (Exec, Query, QueryRow,
// PrepareBatch), so the same code that talks to a server drives chDB.
// Results come back through the JSONCompact format and are decoded by the
// column types chDB reports, as clickhouse-go decodes native blocks: a
// Nullable(T) column scans as *T, Array(T) as []T, DateTime as time.Time.
package chdbtest
