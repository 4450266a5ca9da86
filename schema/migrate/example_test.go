package migrate_test

import (
	"fmt"

	"github.com/tokentrail/tokentrail/schema/migrate"
	"github.com/tokentrail/tokentrail/schema/migrations"
)

// Load lists the migrations embedded in the binary; Apply runs those a
// database has not recorded yet.
func ExampleLoad() {
	migs, err := migrate.Load(migrations.FS)
	if err != nil {
		panic(err)
	}
	for _, m := range migs {
		fmt.Println(m.Version, m.Name, len(m.Statements), "statements")
	}
	// Output:
	// 1 0001_init.sql 4 statements
	// 2 0002_siem_fields.sql 20 statements
	// 3 0003_coverage.sql 1 statements
}
