package main

import (
	"context"
	"fmt"
	"os"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"

	"github.com/tokentrail/tokentrail/queries/querytest"
)

func main() {
	ctx := context.Background()
	conn, err := clickhouse.Open(&clickhouse.Options{Addr: []string{"127.0.0.1:19000"}, Auth: clickhouse.Auth{Database: os.Args[1]}, ReadTimeout: time.Minute})
	if err != nil {
		panic(err)
	}
	if err := querytest.Migrate(ctx, conn); err != nil {
		panic(err)
	}
	if err := querytest.Load(ctx, conn, querytest.Scenario()); err != nil {
		panic(err)
	}
	fmt.Println("ok")
}
