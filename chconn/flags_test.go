package chconn_test

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"testing"

	"github.com/tokentrail/tokentrail/chconn"
)

func TestFlagsConfig(t *testing.T) {
	t.Setenv("CLICKHOUSE_PASSWORD", "from-env")
	cfg, err := chconn.Flags{ClickHouseDSN: chconn.DefaultDSN, ClickHouseUser: "reader"}.Config()
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Password != "from-env" || cfg.Username != "reader" || cfg.ReadTimeout != chconn.DefaultConfiguration().ReadTimeout {
		t.Errorf("config = %+v", cfg)
	}

	// The file wins over the variable; its trailing newline is not part of it.
	file := filepath.Join(t.TempDir(), "pw")
	if err := os.WriteFile(file, []byte("from-file\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err = chconn.Flags{ClickHouseDSN: chconn.DefaultDSN, ClickHousePasswordFile: file}.Config()
	if err != nil || cfg.Password != "from-file" {
		t.Errorf("password file: %q, %v", cfg.Password, err)
	}

	for flag, f := range map[string]chconn.Flags{
		"--clickhouse-dsn":           {ClickHouseDSN: "http://localhost:8123"},
		"--clickhouse-password-file": {ClickHouseDSN: chconn.DefaultDSN, ClickHousePasswordFile: filepath.Join(t.TempDir(), "missing")},
		"--clickhouse-tls-*":         {ClickHouseDSN: chconn.DefaultDSN, ClickHouseTLSCAFile: filepath.Join(t.TempDir(), "missing.pem")},
	} {
		_, err := f.Config()
		var fe *chconn.FlagError
		if !errors.As(err, &fe) || fe.Flag != flag {
			t.Errorf("%s: error %v, want a *FlagError naming it", flag, err)
		}
	}
}

// The flag's default is the documented default DSN.
func TestFlagsDefaultDSN(t *testing.T) {
	field, _ := reflect.TypeOf(chconn.Flags{}).FieldByName("ClickHouseDSN")
	if got := field.Tag.Get("default"); got != chconn.DefaultDSN {
		t.Errorf("--clickhouse-dsn default = %q, want chconn.DefaultDSN %q", got, chconn.DefaultDSN)
	}
}
