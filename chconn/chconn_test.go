package chconn_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/tokentrail/tokentrail/chconn"
	"github.com/tokentrail/tokentrail/internal/chtest"
)

func TestOptions(t *testing.T) {
	opts, err := chconn.Config{DSN: "clickhouse://u:dsnpw@a:9000,b:9000/tt?compress=lz4", Password: "envpw"}.Options()
	if err != nil {
		t.Fatal(err)
	}
	if opts.Auth.Username != "u" || opts.Auth.Password != "envpw" || opts.Auth.Database != "tt" || len(opts.Addr) != 2 {
		t.Errorf("options = %+v", opts.Auth)
	}
	if opts.ReadTimeout != 60*time.Second || opts.DialTimeout != 10*time.Second {
		t.Errorf("timeouts = %v/%v, want the 60s/10s defaults", opts.ReadTimeout, opts.DialTimeout)
	}
	opts, err = chconn.Config{DSN: "clickhouse://h:9000/x?read_timeout=5s", Username: "other", ReadTimeout: time.Minute}.Options()
	if err != nil || opts.ReadTimeout != 5*time.Second || opts.Auth.Username != "other" {
		t.Errorf("the DSN's read_timeout and Username: %+v, %v", opts, err)
	}
	opts, err = chconn.Config{DSN: "clickhouse://h:9000/x", TLS: chconn.TLSConfig{Enable: true, ServerName: "ch"}}.Options()
	if err != nil || opts.TLS == nil || opts.TLS.ServerName != "ch" {
		t.Errorf("TLS: %+v, %v", opts.TLS, err)
	}
	for _, dsn := range []string{"", "http://h:8123/x", "clickhouse://h/x", "clickhouse://h:9000/a`b", "clickhouse://u:p%zz@h:9000/x"} {
		_, err := chconn.Config{DSN: dsn}.Options()
		if !errors.Is(err, chconn.ErrBadDSN) && !errors.Is(err, chconn.ErrNoDSN) {
			t.Errorf("%q: err = %v, want ErrBadDSN or ErrNoDSN", dsn, err)
		}
	}
	_, err = chconn.Config{DSN: "clickhouse://u:hunter2@h:9000/x?read_timeout=bad"}.Options()
	if err == nil || strings.Contains(err.Error(), "hunter2") {
		t.Errorf("error %v must exist and hide the password", err)
	}
}

func TestRedact(t *testing.T) {
	for in, want := range map[string]string{
		"clickhouse://u:pw@h:9000/db":            "clickhouse://u:xxxxx@h:9000/db",
		"clickhouse://u@h:9000/db":               "clickhouse://u@h:9000/db",
		"clickhouse://h:9000/db?password=pw&x=1": "clickhouse://h:9000/db?password=xxxxx&x=1",
	} {
		if got := chconn.Redact(in); got != want {
			t.Errorf("Redact(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestOpenCreatesTheDatabase(t *testing.T) {
	s := chtest.Start(t)
	db := s.NewDatabase()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	for range 2 { // the second time the database exists
		conn, err := chconn.Open(ctx, chconn.Config{DSN: s.DSN(db)})
		if err != nil {
			t.Fatal(err)
		}
		var cur string
		if err := conn.QueryRow(ctx, "SELECT currentDatabase()").Scan(&cur); err != nil || cur != db {
			t.Errorf("current database = %q, %v; want %s", cur, err, db)
		}
		conn.Close()
	}
	_, err := chconn.Open(ctx, chconn.Config{DSN: "clickhouse://default:wrong-pw@" + s.Addr + "/" + db})
	if err == nil || strings.Contains(err.Error(), "wrong-pw") {
		t.Errorf("wrong password: err %v must exist and hide the password", err)
	}
}

// OpenHost reaches the one server named, not the DSN's, with the DSN's
// user, database and settings; a server that does not answer is an error
// naming it.
func TestOpenHost(t *testing.T) {
	s := chtest.Start(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cfg := chconn.Config{DSN: "clickhouse://default:@127.0.0.1:1/system?dial_timeout=1s"}
	conn, err := chconn.OpenHost(ctx, cfg, s.Addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	var db string
	if err := conn.QueryRow(ctx, "SELECT currentDatabase()").Scan(&db); err != nil || db != "system" {
		t.Errorf("current database = %q, %v; want the DSN's (system)", db, err)
	}
	if _, err := chconn.OpenHost(ctx, cfg, "127.0.0.1:1"); err == nil || !strings.Contains(err.Error(), "127.0.0.1:1") {
		t.Errorf("unreachable host: err = %v, want one naming it", err)
	}
}
