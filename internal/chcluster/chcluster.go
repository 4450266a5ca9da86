// Package chcluster starts a throw-away ClickHouse cluster for tests:
// a private ZooKeeper plus shards × replicas of private clickhouse-server
// processes (package chtest) on free loopback ports, configured with the
// operators' example in deploy/clickhouse-cluster (docs/cluster.md), with
// only the host names and ports replaced. Everything is killed and removed
// when the test ends.
//
// Start a cluster once per test package (one top-level test with
// subtests): four servers and ZooKeeper take about a second to start.
// When clickhouse-server, java or the zookeeper jars are missing the test
// is skipped, except under CI=true, where it fails.
package chcluster

import (
	"context"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"
	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	"github.com/tokentrail/tokentrail/chconn"
	"github.com/tokentrail/tokentrail/internal/chtest"
)

// ExampleName is the cluster's name in the example's remote_servers.
const ExampleName = "tokentrail"

// Options shape a cluster; the zero value is the example: 2 shards × 2
// replicas named tokentrail, with its own ZooKeeper.
type Options struct {
	// Name replaces the example's cluster name; "" = ExampleName.
	Name string
	// Shards and Replicas keep the example's first shards and replicas;
	// 0 = all of them (2 and 2).
	Shards, Replicas int
	// ZooKeeper is shared with another cluster; nil = start one.
	ZooKeeper *ZooKeeper
}

// Cluster is a running cluster.
type Cluster struct {
	Name      string
	ZooKeeper *ZooKeeper
	// Shards[s][r] is replica r+1 of shard s+1 (example host ch-<s+1>-<r+1>).
	Shards [][]*chtest.Server
}

// Start starts ZooKeeper (unless shared) and every server in parallel, and
// waits until each answers.
func Start(t testing.TB, opts Options) *Cluster {
	t.Helper()
	chtest.Require(t)
	example := ExampleDir(t)
	clusterXML, err := os.ReadFile(filepath.Join(example, "cluster.xml"))
	if err != nil {
		t.Fatal(err)
	}
	c := &Cluster{Name: opts.Name, ZooKeeper: opts.ZooKeeper}
	if c.Name == "" {
		c.Name = ExampleName
	}
	hosts := exampleHosts(string(clusterXML))
	if len(hosts) == 0 {
		t.Fatalf("%s/cluster.xml lists no ch-S-R hosts", example)
	}
	for _, h := range hosts {
		if (opts.Shards > 0 && h.shard > opts.Shards) || (opts.Replicas > 0 && h.replica > opts.Replicas) {
			continue
		}
		for len(c.Shards) < h.shard {
			c.Shards = append(c.Shards, nil)
		}
		c.Shards[h.shard-1] = append(c.Shards[h.shard-1], chtest.Prepare(t))
	}
	if c.ZooKeeper == nil {
		c.ZooKeeper = StartZooKeeper(t)
	}
	// The ports were free when chosen, but a parallel test package can take
	// one first; every server's configuration names every port, so all
	// move to new ones and start again.
	for attempt := 1; ; attempt++ {
		err := c.startAll(t, example, string(clusterXML))
		if err == nil {
			break
		}
		taken := false
		for _, n := range c.Nodes() {
			n.Kill()
			taken = taken || n.PortTaken()
		}
		if attempt == 3 || !taken {
			t.Fatal(err)
		}
		for _, n := range c.Nodes() {
			n.NewPorts(t)
		}
	}
	if err := c.WaitZooKeeper(30 * time.Second); err != nil {
		t.Fatal(err)
	}
	return c
}

// WaitZooKeeper waits until every running server has a ZooKeeper session.
// ClickHouse 18.16 can crash when it gets ON CLUSTER DDL before its session
// exists, so the harness waits for it after every start.
func (c *Cluster) WaitZooKeeper(d time.Duration) error {
	deadline := time.Now().Add(d)
	for _, n := range c.Nodes() {
		for {
			err := zkSession(n.Addr)
			if err == nil {
				break
			}
			if time.Now().After(deadline) {
				return fmt.Errorf("%s has no ZooKeeper session after %v: %w", n.Addr, d, err)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	return nil
}

func zkSession(addr string) error {
	conn, err := clickhouse.Open(&clickhouse.Options{Addr: []string{addr}, DialTimeout: time.Second, ReadTimeout: 5 * time.Second})
	if err != nil {
		return err
	}
	defer conn.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	var n uint64
	return conn.QueryRow(ctx, "SELECT count() FROM system.zookeeper WHERE path = '/'").Scan(&n)
}

// startAll writes every server's cluster configuration and starts them in
// parallel.
func (c *Cluster) startAll(t testing.TB, example, clusterXML string) error {
	config, err := c.render(clusterXML)
	if err != nil {
		return err
	}
	var wg sync.WaitGroup
	errs := make(chan error, len(c.Nodes()))
	for s, replicas := range c.Shards {
		for r, srv := range replicas {
			macros, err := os.ReadFile(filepath.Join(example, fmt.Sprintf("macros-ch-%d-%d.xml", s+1, r+1)))
			if err != nil {
				return err
			}
			m := strings.ReplaceAll(string(macros), fmt.Sprintf(">ch-%d-%d<", s+1, r+1), ">127.0.0.1<")
			if err := srv.WriteConfigD("cluster.xml", []byte(config)); err != nil {
				return err
			}
			if err := srv.WriteConfigD("macros.xml", []byte(m)); err != nil {
				return err
			}
			wg.Add(1)
			go func() { defer wg.Done(); errs <- srv.Start() }()
		}
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}

type exampleHost struct{ shard, replica int }

var hostRE = regexp.MustCompile(`<host>ch-(\d+)-(\d+)</host>`)

func exampleHosts(xml string) []exampleHost {
	var out []exampleHost
	for _, m := range hostRE.FindAllStringSubmatch(xml, -1) {
		s, _ := strconv.Atoi(m[1])
		r, _ := strconv.Atoi(m[2])
		out = append(out, exampleHost{s, r})
	}
	return out
}

// render returns the example's cluster.xml with this cluster's name, hosts,
// ports and ZooKeeper, and without the shards and replicas it leaves out.
func (c *Cluster) render(xml string) (string, error) {
	xml = strings.ReplaceAll(xml, "<"+ExampleName+">", "<"+c.Name+">")
	xml = strings.ReplaceAll(xml, "</"+ExampleName+">", "</"+c.Name+">")
	replicaRE := regexp.MustCompile(`[ \t]*<replica><host>ch-(\d+)-(\d+)</host><port>9000</port></replica>\n`)
	xml = replicaRE.ReplaceAllStringFunc(xml, func(line string) string {
		m := replicaRE.FindStringSubmatch(line)
		s, _ := strconv.Atoi(m[1])
		r, _ := strconv.Atoi(m[2])
		if s > len(c.Shards) || r > len(c.Shards[s-1]) {
			return ""
		}
		host, port, _ := net.SplitHostPort(c.Shards[s-1][r-1].Addr)
		return strings.Replace(strings.Replace(line, "ch-"+m[1]+"-"+m[2], host, 1), "9000", port, 1)
	})
	xml = regexp.MustCompile(`(?s)[ \t]*<shard>\s*<internal_replication>true</internal_replication>\s*</shard>\n`).ReplaceAllString(xml, "")
	zkHost, zkPort, _ := net.SplitHostPort(c.ZooKeeper.Addr)
	zk := "<host>zk-1</host><port>2181</port>"
	if !strings.Contains(xml, zk) {
		return "", fmt.Errorf("example cluster.xml: no %s to replace", zk)
	}
	xml = strings.Replace(xml, zk, "<host>"+zkHost+"</host><port>"+zkPort+"</port>", 1)
	// Each cluster's DDL queue is its own when two clusters share one
	// ZooKeeper, as production clusters sharing one would configure it.
	if c.Name != ExampleName {
		xml = strings.Replace(xml, "/clickhouse/task_queue/ddl", "/clickhouse/task_queue/ddl_"+c.Name, 1)
	}
	return xml, nil
}

// ExampleDir finds deploy/clickhouse-cluster from the test's directory.
func ExampleDir(t testing.TB) string {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return filepath.Join(dir, "deploy", "clickhouse-cluster")
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Fatal("chcluster: no go.mod above the test's directory")
		}
		dir = parent
	}
}

// Nodes lists every server, shard by shard.
func (c *Cluster) Nodes() []*chtest.Server {
	var out []*chtest.Server
	for _, rs := range c.Shards {
		out = append(out, rs...)
	}
	return out
}

// Addrs lists every server's native address, shard by shard.
func (c *Cluster) Addrs() []string {
	var out []string
	for _, n := range c.Nodes() {
		out = append(out, n.Addr)
	}
	return out
}

// DSN returns a DSN for database db listing every server, as docs/cluster.md
// advises: the driver connects to the first that answers.
func (c *Cluster) DSN(db string) string {
	return fmt.Sprintf("clickhouse://default:@%s/%s?dial_timeout=2s&read_timeout=60s", strings.Join(c.Addrs(), ","), db)
}

// Conn opens a connection to database db that fails over between every
// server, closed when the test ends.
func (c *Cluster) Conn(t testing.TB, db string) driver.Conn {
	t.Helper()
	conn, err := clickhouse.Open(&clickhouse.Options{
		Addr:        c.Addrs(),
		Auth:        clickhouse.Auth{Database: db, Username: "default"},
		DialTimeout: 2 * time.Second,
		ReadTimeout: 60 * time.Second,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return conn
}

// NewDatabase returns a database name not used yet in this process.
func (c *Cluster) NewDatabase() string { return c.Shards[0][0].NewDatabase() }

// WaitReplicated waits until every replica of every shard has fetched
// what the others have (SYSTEM SYNC REPLICA on each Replicated table of
// db), so that a read through one replica sees the shard's rows.
func (c *Cluster) WaitReplicated(t testing.TB, db string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	for _, n := range c.Nodes() {
		conn := n.Conn(t, "")
		rows, err := conn.Query(ctx, "SELECT name FROM system.tables WHERE database = ? AND engine LIKE 'Replicated%'", db)
		if err != nil {
			t.Fatalf("%s: %v", n.Addr, err)
		}
		var tables []string
		for rows.Next() {
			var s string
			if err := rows.Scan(&s); err != nil {
				t.Fatal(err)
			}
			tables = append(tables, s)
		}
		rows.Close()
		for _, tb := range tables {
			if err := conn.Exec(ctx, "SYSTEM SYNC REPLICA "+chconn.QuoteIdent(db)+"."+chconn.QuoteIdent(tb)); err != nil {
				t.Fatalf("%s: SYSTEM SYNC REPLICA %s.%s: %v", n.Addr, db, tb, err)
			}
		}
	}
}
