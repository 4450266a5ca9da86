// Package chtest starts throw-away ClickHouse servers for tests: a private
// clickhouse-server process on free loopback ports with its data in a temp
// directory, killed when the test ends.
//
// When the clickhouse-server binary is missing the test is skipped, except
// under CI=true, where a missing dependency fails the test.
package chtest

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"
	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
)

// Binary is the server executable looked up on PATH and in /usr/sbin.
var Binary = "clickhouse-server"

// Server is one running (or stopped) private ClickHouse server.
type Server struct {
	// Addr is the native-protocol address, host:port.
	Addr string
	// HTTPAddr is the HTTP interface address, host:port.
	HTTPAddr string
	// InterserverAddr is where replicas fetch parts from this server.
	InterserverAddr string
	// Dir holds the server's config, data and logs.
	Dir string

	bin  string
	proc Process
	dbs  atomic.Int64
}

// Require skips (or, under CI=true, fails) the test when ClickHouse is not
// installed, and returns the server binary's path.
func Require(t testing.TB) string {
	t.Helper()
	if p, err := exec.LookPath(Binary); err == nil {
		return p
	}
	if p := filepath.Join("/usr/sbin", Binary); fileExists(p) {
		return p
	}
	Missing(t, "%s not installed; `make test` installs it (apt-get install clickhouse-server)", Binary)
	return ""
}

// Missing ends a test that needs a part the machine lacks: it is skipped,
// except under CI=true, where a missing part fails the test so that CI
// never skips an integration test silently.
func Missing(t testing.TB, format string, args ...any) {
	t.Helper()
	msg := fmt.Sprintf(format, args...)
	if os.Getenv("CI") == "true" {
		t.Fatal(msg + " (CI=true: a missing part is a failure)")
	}
	t.Skip(msg)
}

// Prepare writes a private server's configuration on free ports without
// starting it, so that a caller can add configuration (WriteConfigD) that
// names the ports first; it is stopped and removed when the test ends.
func Prepare(t testing.TB) *Server {
	t.Helper()
	bin := Require(t)
	dir, err := os.MkdirTemp("", "chtest-")
	if err != nil {
		t.Fatal(err)
	}
	s := &Server{bin: bin, Dir: dir, Addr: FreeAddr(t), HTTPAddr: FreeAddr(t), InterserverAddr: FreeAddr(t)}
	if err := s.writeConfig(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		s.Kill()
		if !t.Failed() {
			_ = os.RemoveAll(dir)
		} else {
			t.Logf("clickhouse data and logs kept in %s", dir)
		}
	})
	return s
}

// WriteConfigD adds a configuration file that the server merges into its
// config.xml (config.d/name) when it next starts.
func (s *Server) WriteConfigD(name string, data []byte) error {
	d := filepath.Join(s.Dir, "config.d")
	if err := os.MkdirAll(d, 0o755); err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(d, name), data, 0o644)
}

// Start starts a private server and stops it when the test ends.
func Start(t testing.TB) *Server {
	t.Helper()
	s := Prepare(t)
	// The ports were free when chosen but another process (a parallel test
	// package) can take one before the server binds it: retry with new ones.
	for attempt := 1; ; attempt++ {
		err := s.Start()
		if err == nil {
			return s
		}
		if attempt == 3 || !s.PortTaken() {
			t.Fatal(err)
		}
		s.NewPorts(t)
	}
}

// PortTaken reports whether the server's last start failed because a port
// was taken.
func (s *Server) PortTaken() bool {
	errLog, _ := os.ReadFile(filepath.Join(s.Dir, "server.err.log"))
	outLog, _ := os.ReadFile(filepath.Join(s.Dir, "stdout.log"))
	return strings.Contains(string(errLog)+string(outLog), "Address already in use")
}

// NewPorts moves a stopped server to new free ports (and clears its logs).
func (s *Server) NewPorts(t testing.TB) {
	t.Helper()
	_ = os.Remove(filepath.Join(s.Dir, "server.err.log"))
	_ = os.Remove(filepath.Join(s.Dir, "stdout.log"))
	s.Addr, s.HTTPAddr, s.InterserverAddr = FreeAddr(t), FreeAddr(t), FreeAddr(t)
	if err := s.writeConfig(); err != nil {
		t.Fatal(err)
	}
}

// Start (re)starts a stopped server on the same ports and data, and waits
// until it answers a ping.
func (s *Server) Start() error {
	cmd := exec.Command(s.bin, "--config-file="+filepath.Join(s.Dir, "config.xml"))
	cmd.Dir = s.Dir
	return s.proc.Start(cmd, filepath.Join(s.Dir, "stdout.log"), "clickhouse-server on "+s.Addr,
		filepath.Join(s.Dir, "server.err.log"), s.ping)
}

// Kill stops the server with SIGKILL (data stays for a later Start). The
// next Start recovers as an operator does after a crash, with the
// force_restore_data flag: a replica killed while it fetched a part can
// hold a part ZooKeeper does not list yet, and 18.16 then refuses to start
// ("The local set of parts ... doesn't look like the set of parts in
// ZooKeeper") instead of detaching it.
func (s *Server) Kill() {
	s.proc.Kill(s.Addr)
	flags := filepath.Join(s.Dir, "data", "flags")
	if err := os.MkdirAll(flags, 0o755); err == nil {
		_ = os.WriteFile(filepath.Join(flags, "force_restore_data"), nil, 0o644)
	}
}

// CPU is the CPU time the server has used since it started.
func (s *Server) CPU() time.Duration { return s.proc.CPU() }

// DSN returns a clickhouse:// DSN for database db.
func (s *Server) DSN(db string) string {
	return fmt.Sprintf("clickhouse://default:@%s/%s?dial_timeout=5s&read_timeout=60s", s.Addr, db)
}

// NewDatabase returns the name of a fresh, not yet created database name
// unique within this server.
func (s *Server) NewDatabase() string {
	return fmt.Sprintf("tt_%d_%d", os.Getpid(), s.dbs.Add(1))
}

// Conn opens a native connection to database db ("" = default) and closes it
// when the test ends.
func (s *Server) Conn(t testing.TB, db string) driver.Conn {
	t.Helper()
	conn, err := clickhouse.Open(&clickhouse.Options{
		Addr:        []string{s.Addr},
		Auth:        clickhouse.Auth{Database: db, Username: "default"},
		DialTimeout: 5 * time.Second,
		ReadTimeout: 60 * time.Second,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return conn
}

func (s *Server) ping() error {
	conn, err := clickhouse.Open(&clickhouse.Options{Addr: []string{s.Addr}, DialTimeout: time.Second, ReadTimeout: 5 * time.Second})
	if err != nil {
		return err
	}
	defer conn.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	return conn.Ping(ctx)
}

func (s *Server) writeConfig() error {
	port := func(addr string) string { return addr[strings.LastIndexByte(addr, ':')+1:] }
	for _, d := range []string{"data", "tmp", "user_files", "format_schemas"} {
		if err := os.MkdirAll(filepath.Join(s.Dir, d), 0o755); err != nil {
			return err
		}
	}
	config := fmt.Sprintf(`<?xml version="1.0"?>
<yandex>
  <logger><level>warning</level><log>%[1]s/server.log</log><errorlog>%[1]s/server.err.log</errorlog><size>10M</size><count>1</count></logger>
  <listen_host>127.0.0.1</listen_host>
  <tcp_port>%[2]s</tcp_port>
  <http_port>%[3]s</http_port>
  <interserver_http_host>127.0.0.1</interserver_http_host>
  <interserver_http_port>%[4]s</interserver_http_port>
  <path>%[1]s/data/</path>
  <tmp_path>%[1]s/tmp/</tmp_path>
  <user_files_path>%[1]s/user_files/</user_files_path>
  <format_schema_path>%[1]s/format_schemas/</format_schema_path>
  <users_config>%[1]s/users.xml</users_config>
  <default_profile>default</default_profile>
  <default_database>default</default_database>
  <timezone>UTC</timezone>
  <mark_cache_size>268435456</mark_cache_size>
  <max_concurrent_queries>100</max_concurrent_queries>
  <uncompressed_cache_size>268435456</uncompressed_cache_size>
</yandex>
`, s.Dir, port(s.Addr), port(s.HTTPAddr), port(s.InterserverAddr))
	// The profile matches the packaged users.xml where it matters to
	// benchmarks: no uncompressed-block cache, so a repeated query reads and
	// decompresses its columns every time, as on a default install.
	users := `<?xml version="1.0"?>
<yandex>
  <profiles><default><max_memory_usage>4000000000</max_memory_usage><use_uncompressed_cache>0</use_uncompressed_cache></default></profiles>
  <users><default><password></password><networks><ip>::/0</ip></networks><profile>default</profile><quota>default</quota></default></users>
  <quotas><default><interval><duration>3600</duration><queries>0</queries><errors>0</errors><result_rows>0</result_rows><read_rows>0</read_rows><execution_time>0</execution_time></interval></default></quotas>
</yandex>
`
	if err := os.WriteFile(filepath.Join(s.Dir, "config.xml"), []byte(config), 0o644); err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(s.Dir, "users.xml"), []byte(users), 0o644)
}

// FreeAddr returns a loopback host:port that was free when chosen.
func FreeAddr(t testing.TB) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

func fileExists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}
