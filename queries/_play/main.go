package main

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"

	"github.com/tokentrail/tokentrail/queries/querytest"
)

func main() {
	ctx := context.Background()
	conn, err := clickhouse.Open(&clickhouse.Options{Addr: []string{"127.0.0.1:19000"}, Auth: clickhouse.Auth{Database: os.Args[1]}, ReadTimeout: 10 * time.Minute})
	if err != nil {
		panic(err)
	}
	if err := querytest.Migrate(ctx, conn); err != nil {
		panic(err)
	}
	ev, _ := strconv.Atoi(os.Args[2])
	tok, _ := strconv.Atoi(os.Args[3])
	start := time.Now()
	if err := querytest.LoadSynthetic(ctx, conn, querytest.Synthetic{Tokens: tok, AuditEvents: ev, Now: querytest.ScenarioNow}); err != nil {
		panic(err)
	}
	fmt.Println("ok", time.Since(start))
}
