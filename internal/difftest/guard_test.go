//go:build !chdb

package difftest

import (
	"os"
	"testing"
)

// Without the chdb tag the differential tests are not compiled: say how to
// run them, and fail under CI, which must run them (make test does).
func TestDifferentialNeedsChDB(t *testing.T) {
	const how = "deploy/local/chdb.sh install && CHDB_LIB_PATH=$(deploy/local/chdb.sh path) go test -tags chdb ./internal/difftest/ (make test does both)"
	if os.Getenv("CI") == "true" {
		t.Fatal("the differential SQL tests were built without -tags chdb under CI=true; run: " + how)
	}
	t.Skip("the differential SQL tests on ClickHouse 26.7 (chDB) need the chdb build tag and the library: " + how)
}
