package chtest_test

import (
	"context"
	"testing"

	"github.com/tokentrail/tokentrail/internal/chtest"
)

func TestStartQueryRestart(t *testing.T) {
	s := chtest.Start(t)
	ctx := context.Background()
	conn := s.Conn(t, "")
	var v string
	if err := conn.QueryRow(ctx, "SELECT version()").Scan(&v); err != nil {
		t.Fatal(err)
	}
	if v == "" {
		t.Fatal("empty server version")
	}
	if err := conn.Exec(ctx, "CREATE DATABASE "+s.NewDatabase()); err != nil {
		t.Fatal(err)
	}
	s.Kill()
	if err := conn.Ping(ctx); err == nil {
		t.Fatal("ping succeeded on a killed server")
	}
	if err := s.Start(); err != nil {
		t.Fatal(err)
	}
	if err := s.Conn(t, "").Ping(ctx); err != nil {
		t.Fatalf("ping after restart: %v", err)
	}
}
