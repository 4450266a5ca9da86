package main

import (
	"bufio"
	"context"
	"fmt"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/tokentrail/tokentrail/internal/chtest"
)

// The sink is SIGKILLed at random points (during migration, group join,
// fetches, inserts, commits) while records keep arriving, and restarted
// each time; a final `sink --once` catches up. Nothing is lost and every
// redelivered record is absorbed.
func testSinkKilledAtRandom(t *testing.T, ch *chtest.Server) {
	bin := buildIngestBinary(t)
	e := newSinkEnv(t, ch)
	seed := time.Now().UnixNano()
	rng := rand.New(rand.NewPCG(uint64(seed), 0))
	t.Logf("seed %d", seed)

	const initial, chunk = 60_000, 2_500
	e.produceAudit(0, initial, kafka.Zstd)
	stop := make(chan struct{})
	produced := make(chan int, 1) // the total, once stopped
	pctx := e.ctx(5 * time.Minute)
	go func() { // keeps producing while the sink is killed and restarted
		total := initial
		defer func() { produced <- total }()
		for {
			select {
			case <-stop:
				return
			case <-time.After(400 * time.Millisecond):
			}
			if err := produceAuditErr(pctx, e.brokers, total, chunk); err != nil {
				t.Errorf("produce: %v", err)
				return
			}
			total += chunk
		}
	}()
	logs := filepath.Join(t.TempDir(), "sink.log")
	for i := range 6 {
		cmd := e.child(bin, logs, e.args("sink")...)
		d := time.Duration(300+rng.IntN(5700)) * time.Millisecond
		time.Sleep(d)
		_ = cmd.Process.Signal(syscall.SIGKILL)
		_ = cmd.Wait()
		t.Logf("run %d: SIGKILL after %v; %d audit rows so far", i+1, d, e.countIfExists("SELECT count() FROM audit_events"))
	}
	close(stop)
	total := <-produced
	start := time.Now()
	// Debug level: a drain that does not finish shows what it waited for.
	cmd := e.child(bin, logs, e.args("sink", "--once", "--log-level", "debug")...)
	defer func() { t.Logf("final sink --once took %v", time.Since(start).Round(time.Millisecond)) }()
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	select {
	case err := <-exited:
		if err != nil {
			t.Fatalf("final sink --once: %v\n%s", err, finalRunLog(logs, 60))
		}
	case <-time.After(2 * time.Minute):
		_ = cmd.Process.Kill()
		t.Fatalf("final sink --once did not finish\n%s", finalRunLog(logs, 60))
	}
	for line := range strings.Lines(finalRunLog(logs, 1000)) {
		if strings.Contains(line, "rejoining the group") {
			t.Logf("final sink --once: %s", strings.TrimSpace(line))
		}
	}
	want := uint64(total)
	t.Logf("%d records produced, %d rows inserted", total, e.count("SELECT count() FROM audit_events"))
	if n := e.count("SELECT count() FROM audit_events FINAL"); n != want {
		t.Errorf("audit_events FINAL holds %d rows, want %d", n, want)
	}
	if n := e.count("SELECT uniqExact(id) FROM audit_events"); n != want {
		t.Errorf("%d distinct ids, want %d", n, want)
	}
}

// SIGTERM stops a running sink: it flushes the batch it holds, commits and
// exits 0.
func testSinkGracefulStop(t *testing.T, ch *chtest.Server) {
	bin := buildIngestBinary(t)
	e := newSinkEnv(t, ch)
	e.produceAudit(0, 3000, kafka.Zstd)
	addr := freeAddr(t)
	logs := filepath.Join(t.TempDir(), "sink.log")
	// --batch-age 1h and --batch-rows 5000: the rows can only reach
	// ClickHouse through the final flush.
	cmd := e.child(bin, logs, e.args("sink", "--batch-age", "1h", "--metrics-addr", addr)...)
	deadline := time.Now().Add(time.Minute)
	for metric(addr, "tokentrail_sink_records_total") < 3000 {
		if time.Now().After(deadline) {
			_ = cmd.Process.Kill()
			t.Fatalf("the sink did not fetch the records\n%s", tailFile(logs, 20))
		}
		time.Sleep(100 * time.Millisecond)
	}
	_ = cmd.Process.Signal(syscall.SIGTERM)
	if err := cmd.Wait(); err != nil {
		t.Fatalf("sink after SIGTERM: %v\n%s", err, tailFile(logs, 20))
	}
	if n := e.count("SELECT count() FROM audit_events FINAL"); n != 3000 {
		t.Errorf("audit_events holds %d rows after SIGTERM, want 3000", n)
	}
	// The offsets were committed: nothing is left to drain.
	code, _, stderr := ingestCLI(e.args("sink", "--once")...)
	if code != 0 || !strings.Contains(stderr, "nothing to drain") {
		t.Errorf("sink --once after a graceful stop: exit %d\n%s", code, tailLines(stderr, 3))
	}
}

// child starts the binary with its output appended to logs.
func (e *sinkEnv) child(bin, logs string, args ...string) *exec.Cmd {
	e.t.Helper()
	f, err := os.OpenFile(logs, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		e.t.Fatal(err)
	}
	defer f.Close()
	fmt.Fprintf(f, "--- %s\n", strings.Join(args, " "))
	cmd := exec.Command(bin, args...)
	cmd.Stdout, cmd.Stderr = f, f
	cmd.Env = append(os.Environ(), "TOKENTRAIL_LOG_LEVEL=info")
	if err := cmd.Start(); err != nil {
		e.t.Fatal(err)
	}
	e.t.Cleanup(func() { _ = cmd.Process.Kill() })
	return cmd
}

// countIfExists is count, or -1 while the table does not exist yet.
func (e *sinkEnv) countIfExists(query string) int64 {
	var n uint64
	if err := e.conn().QueryRow(e.ctx(10*time.Second), query).Scan(&n); err != nil {
		return -1
	}
	return int64(n)
}

func produceAuditErr(ctx context.Context, brokers []string, from, count int) error {
	w := &kafka.Writer{Addr: kafka.TCP(brokers...), Topic: "installation_tokens.audit_events", RequiredAcks: kafka.RequireAll,
		Balancer: &kafka.Hash{}, BatchSize: 5000, BatchTimeout: 5 * time.Millisecond, Compression: kafka.Zstd}
	defer w.Close()
	msgs := make([]kafka.Message, 0, count)
	for i := from; i < from+count; i++ {
		msgs = append(msgs, auditMessage(i))
	}
	return w.WriteMessages(ctx, msgs...)
}

// metric sums a metric's samples from a /metrics endpoint (0 when down).
func metric(addr, name string) float64 {
	resp, err := http.Get("http://" + addr + "/metrics")
	if err != nil {
		return 0
	}
	defer resp.Body.Close()
	var sum float64
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(line, name+" ") || strings.HasPrefix(line, name+"{") {
			f := strings.Fields(line)
			v, _ := strconv.ParseFloat(f[len(f)-1], 64)
			sum += v
		}
	}
	return sum
}

func freeAddr(t testing.TB) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// finalRunLog is the last n lines the last child logged, without kafka-go's
// debug line for every idle fetch.
func finalRunLog(path string, n int) string {
	b, _ := os.ReadFile(path)
	s := string(b)
	s = s[strings.LastIndex(s, "\n--- ")+1:]
	var keep []string
	for line := range strings.Lines(s) {
		if !strings.Contains(line, "no messages received from kafka") {
			keep = append(keep, line)
		}
	}
	return tailLines(strings.Join(keep, ""), n)
}

func tailFile(path string, n int) string {
	b, _ := os.ReadFile(path)
	return tailLines(string(b), n)
}
