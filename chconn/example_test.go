package chconn_test

import (
	"errors"
	"fmt"

	"github.com/tokentrail/tokentrail/chconn"
)

// Options shows what a DSN plus separately supplied credentials turn into;
// Open also creates the database and pings the server.
func ExampleConfig_Options() {
	cfg := chconn.DefaultConfiguration()
	cfg.DSN = "clickhouse://ingest@ch-1:9000,ch-2:9000/tokentrail"
	cfg.Password = "from CLICKHOUSE_PASSWORD"
	opts, err := cfg.Options()
	if err != nil {
		panic(err)
	}
	fmt.Println(opts.Addr, opts.Auth.Username, opts.Auth.Database, opts.ReadTimeout)
	fmt.Println(chconn.Redact("clickhouse://ingest:secret@ch-1:9000/tokentrail"))
	// Output:
	// [ch-1:9000 ch-2:9000] ingest tokentrail 1m0s
	// clickhouse://ingest:xxxxx@ch-1:9000/tokentrail
}

// A command embeds Flags in its kong CLI struct and turns them into a
// Config; a bad value comes back naming its flag.
func ExampleFlags_Config() {
	f := chconn.Flags{ClickHouseDSN: "clickhouse://ch-1:9000/tokentrail", ClickHouseUser: "reader", ClickHouseTLS: true}
	cfg, err := f.Config()
	fmt.Println(cfg.Username, cfg.TLS.Enable, err)

	_, err = chconn.Flags{ClickHouseDSN: "http://ch-1:8123"}.Config()
	var fe *chconn.FlagError
	fmt.Println(errors.As(err, &fe), fe.Flag)
	// Output:
	// reader true <nil>
	// true --clickhouse-dsn
}
