package chcluster

import (
	"bufio"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tokentrail/tokentrail/internal/chtest"
)

// ZooKeeperJars are the class path of Debian's zookeeper package: the
// server jar's manifest names its own dependencies, slf4j-simple gives it
// a logger.
var ZooKeeperJars = []string{"/usr/share/java/zookeeper.jar", "/usr/share/java/slf4j-simple.jar"}

// ZooKeeper is one private ZooKeeper server (standalone).
type ZooKeeper struct {
	// Addr is the client address, host:port.
	Addr string
	// Dir holds zoo.cfg, the data and the log.
	Dir string

	java string
	proc chtest.Process
}

// RequireZooKeeper skips (or, under CI=true, fails) the test when Java or
// Debian's zookeeper jars are missing, and returns the java binary.
func RequireZooKeeper(t testing.TB) string {
	t.Helper()
	java, err := exec.LookPath("java")
	missing := err != nil
	for _, j := range ZooKeeperJars {
		if _, err := os.Stat(j); err != nil {
			missing = true
		}
	}
	if !missing {
		return java
	}
	chtest.Missing(t, "ZooKeeper (java and %v) not installed; `make test-deps` installs it (apt-get install zookeeper)", ZooKeeperJars)
	return ""
}

// StartZooKeeper starts a private ZooKeeper and stops it when the test ends.
func StartZooKeeper(t testing.TB) *ZooKeeper {
	t.Helper()
	java := RequireZooKeeper(t)
	dir, err := os.MkdirTemp("", "chcluster-zk-")
	if err != nil {
		t.Fatal(err)
	}
	z := &ZooKeeper{Addr: chtest.FreeAddr(t), Dir: dir, java: java}
	t.Cleanup(func() {
		z.Kill()
		if !t.Failed() {
			_ = os.RemoveAll(dir)
		} else {
			t.Logf("zookeeper data and log kept in %s", dir)
		}
	})
	for attempt := 1; ; attempt++ {
		_, port, _ := net.SplitHostPort(z.Addr)
		cfg := fmt.Sprintf("dataDir=%s/data\nclientPort=%s\nclientPortAddress=127.0.0.1\nadmin.enableServer=false\n"+
			"4lw.commands.whitelist=srvr\ntickTime=500\nmaxSessionTimeout=60000\n", dir, port)
		if err := os.WriteFile(filepath.Join(dir, "zoo.cfg"), []byte(cfg), 0o644); err != nil {
			t.Fatal(err)
		}
		err := z.Start()
		if err == nil {
			return z
		}
		// Another test package took the port between choosing and binding.
		log, _ := os.ReadFile(filepath.Join(dir, "zookeeper.log"))
		if attempt == 3 || !strings.Contains(string(log), "Address already in use") {
			t.Fatal(err)
		}
		_ = os.Remove(filepath.Join(dir, "zookeeper.log"))
		z.Addr = chtest.FreeAddr(t)
	}
}

// Start (re)starts a stopped ZooKeeper on the same port and data and waits
// until it serves requests.
func (z *ZooKeeper) Start() error {
	// A small heap and the client JIT only: the tests' load is tiny and
	// the machine is shared.
	cmd := exec.Command(z.java, "-Xmx128m", "-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1",
		"-cp", strings.Join(ZooKeeperJars, ":"), "org.apache.zookeeper.server.ZooKeeperServerMain", filepath.Join(z.Dir, "zoo.cfg"))
	logPath := filepath.Join(z.Dir, "zookeeper.log")
	return z.proc.Start(cmd, logPath, "zookeeper on "+z.Addr, logPath, func() error {
		if !z.serving() {
			return fmt.Errorf("not serving on %s yet", z.Addr)
		}
		return nil
	})
}

// Kill stops ZooKeeper with SIGKILL (data stays for a later Start).
func (z *ZooKeeper) Kill() { z.proc.Kill(z.Addr) }

// serving asks srvr rather than ruok: ruok answers imok as soon as the
// port listens, before the server takes sessions, and ClickHouse 18.16
// crashes when its first session attempt meets that state during DDL.
func (z *ZooKeeper) serving() bool {
	c, err := net.DialTimeout("tcp", z.Addr, time.Second)
	if err != nil {
		return false
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(2 * time.Second))
	if _, err := c.Write([]byte("srvr")); err != nil {
		return false
	}
	line, _ := bufio.NewReader(c).ReadString('\n')
	return strings.HasPrefix(line, "Zookeeper version")
}
