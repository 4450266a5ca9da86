package main

import (
	"bytes"
	"context"
	"errors"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/tokentrail/tokentrail/falcon/falcontest"
	"github.com/tokentrail/tokentrail/internal/chtest"
	"github.com/tokentrail/tokentrail/schema"
)

// buildIngest compiles this command into a temporary directory. Without a
// go tool it skips, except under CI=true, where it fails.
func buildIngest(t testing.TB) string {
	t.Helper()
	if _, err := exec.LookPath("go"); err != nil {
		chtest.Missing(t, "go tool needed to build the ingest binary: %v", err)
	}
	bin := filepath.Join(t.TempDir(), "ingest")
	cmd := exec.Command("go", "build", "-o", bin, ".")
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

// pollClient is a Kafka client for watching a child's progress: its
// metadata cache is short, so a topic the child creates shows up at once.
func (e *collectEnv) pollClient() *kafka.Client {
	return &kafka.Client{Addr: kafka.TCP(strings.Split(e.brokers, ",")...), Timeout: 10 * time.Second,
		Transport: &kafka.Transport{MetadataTTL: 50 * time.Millisecond}}
}

// topicSize sums the end offsets of a topic's partitions.
func topicSize(ctx context.Context, c *kafka.Client, topic string) (int64, error) {
	meta, err := c.Metadata(ctx, &kafka.MetadataRequest{Topics: []string{topic}})
	if err != nil || len(meta.Topics) == 0 || meta.Topics[0].Error != nil {
		return 0, errors.New("no topic yet")
	}
	req := map[string][]kafka.OffsetRequest{}
	for _, p := range meta.Topics[0].Partitions {
		req[topic] = append(req[topic], kafka.LastOffsetOf(p.ID))
	}
	res, err := c.ListOffsets(ctx, &kafka.ListOffsetsRequest{Topics: req})
	if err != nil {
		return 0, err
	}
	var n int64
	for _, p := range res.Topics[topic] {
		n += p.LastOffset
	}
	return n, nil
}

// The collector runs as a child process and is SIGKILLed at 10 random
// points of a backfill, then restarted until it finishes: the ids on the
// topic are exactly the emulator's, and the duplicates number at most one
// publish batch per kill.
func TestCollectCrashSafety(t *testing.T) {
	bin := buildIngest(t)
	const events, page, kills = 60000, 250, 10
	// A frozen clock in the past: every seeded event is visible and older
	// than the child's now minus the settle lag.
	clock := falcontest.NewClock(time.Now().Add(-10 * time.Minute).Truncate(time.Second))
	e := newCollectEnv(t, falcontest.Config{Seed: 42, Clock: clock, OffsetCap: 10000,
		Tenants: []falcontest.TenantConfig{{Tokens: 50, Events: events, Ties: 3000, Span: 7 * 24 * time.Hour}},
		Faults:  falcontest.Faults{ServerErrorRate: 0.02}})
	tn := e.emu.Tenants()[0]
	id, secret := tn.Credentials()
	args := e.args("--once", "--start-time", "all", "--falcon-page-limit", "250", "--log-level", "info", "--log-format", "json")
	env := append(os.Environ(), "FALCON_CLIENT_ID="+id, "FALCON_CLIENT_SECRET="+secret, "TOKENTRAIL_FINGERPRINT_KEY=crash")

	client := e.pollClient()
	rng := rand.New(rand.NewPCG(7, 7))
	thresholds := make([]int64, kills)
	for i := range thresholds {
		thresholds[i] = int64(events/20 + rng.IntN(events*17/20))
	}
	sort.Slice(thresholds, func(i, j int) bool { return thresholds[i] < thresholds[j] })

	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	start := func() (*exec.Cmd, *bytes.Buffer) {
		cmd := exec.Command(bin, args...)
		cmd.Env = env
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		return cmd, &stderr
	}
	for i, th := range thresholds {
		cmd, stderr := start()
		exited := make(chan error, 1)
		go func() { exited <- cmd.Wait() }()
		// Let the child pass the threshold, then kill it at a random
		// moment of whatever it is doing: fetching, publishing or
		// committing.
		for {
			n, err := topicSize(ctx, client, schema.TopicAuditEvents)
			if err == nil && n >= th {
				break
			}
			select {
			case err := <-exited:
				t.Fatalf("kill %d: the child exited (%v) before %d records\n%s", i, err, th, tail(stderr.String()))
			case <-ctx.Done():
				t.Fatal("timeout")
			case <-time.After(2 * time.Millisecond):
			}
		}
		time.Sleep(time.Duration(rng.IntN(15)) * time.Millisecond)
		_ = cmd.Process.Signal(syscall.SIGKILL)
		err := <-exited
		var ee *exec.ExitError
		if !errors.As(err, &ee) || ee.Sys().(syscall.WaitStatus).Signal() != syscall.SIGKILL {
			t.Fatalf("kill %d: child ended with %v, not by SIGKILL\n%s", i, err, tail(stderr.String()))
		}
	}
	cmd, stderr := start()
	if err := cmd.Wait(); err != nil {
		t.Fatalf("final run: %v\n%s", err, tail(stderr.String()))
	}

	got := e.idCounts(schema.TopicAuditEvents, "default", 50)
	missing, dups, extra := compareIDs(got, tn.AuditEventIDs(true))
	if missing != 0 || extra != 0 {
		t.Fatalf("after %d kills: %d ids missing, %d unexpected", kills, missing, extra)
	}
	if dups > kills*page {
		t.Fatalf("%d duplicate publishes after %d kills, more than one batch (%d) per kill", dups, kills, page)
	}
	tokens := e.idCounts(schema.TopicTokens, "default", 1)
	if len(tokens) != len(tn.Tokens()) {
		t.Fatalf("%d token ids on the topic, want %d", len(tokens), len(tn.Tokens()))
	}
	t.Logf("%d kills: %d duplicate audit publishes (bound %d)", kills, dups, kills*page)
}

// SIGTERM mid-backfill: the collector finishes the publish in flight,
// commits and exits 0; the next run completes without a single duplicate.
func TestCollectSIGTERMIsGraceful(t *testing.T) {
	bin := buildIngest(t)
	clock := falcontest.NewClock(time.Now().Add(-10 * time.Minute).Truncate(time.Second))
	// Slow reads keep the backfill going for seconds after the signal.
	e := newCollectEnv(t, falcontest.Config{Seed: 43, Clock: clock,
		Tenants: []falcontest.TenantConfig{{Tokens: 10, Events: 40000, Ties: 500, Span: 7 * 24 * time.Hour}},
		Faults:  falcontest.Faults{Latency: 10 * time.Millisecond, Operations: []string{falcontest.OpAuditEventsRead}}})
	tn := e.emu.Tenants()[0]
	id, secret := tn.Credentials()
	env := append(os.Environ(), "FALCON_CLIENT_ID="+id, "FALCON_CLIENT_SECRET="+secret)
	client := e.pollClient()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()

	cmd := exec.Command(bin, e.args("--start-time", "all", "--falcon-page-limit", "200", "--poll-interval", "1h")...)
	cmd.Env = env
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	mustNoErr(t, cmd.Start())
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	for {
		if n, err := topicSize(ctx, client, schema.TopicAuditEvents); err == nil && n >= 5000 {
			break
		}
		select {
		case err := <-exited:
			t.Fatalf("exited early: %v\n%s", err, tail(stderr.String()))
		case <-time.After(2 * time.Millisecond):
		}
	}
	mustNoErr(t, cmd.Process.Signal(syscall.SIGTERM))
	select {
	case err := <-exited:
		if err != nil {
			t.Fatalf("after SIGTERM: %v\n%s", err, tail(stderr.String()))
		}
	case <-time.After(30 * time.Second):
		_ = cmd.Process.Kill()
		t.Fatal("no exit within 30s of SIGTERM")
	}
	partial, _ := topicSize(ctx, client, schema.TopicAuditEvents)
	if partial >= 40000 {
		t.Fatalf("SIGTERM came after the backfill (%d records)", partial)
	}
	if !strings.Contains(stderr.String(), "collector stopped") {
		t.Fatalf("no clean stop logged:\n%s", tail(stderr.String()))
	}

	final := exec.Command(bin, e.args("--once", "--start-time", "all")...)
	final.Env = env
	if out, err := final.CombinedOutput(); err != nil {
		t.Fatalf("--once: %v\n%s", err, tail(string(out)))
	}
	got := e.idCounts(schema.TopicAuditEvents, "default", 20)
	if m, d, x := compareIDs(got, tn.AuditEventIDs(true)); m+d+x != 0 {
		t.Fatalf("after SIGTERM and a restart: %d missing, %d duplicates, %d unexpected", m, d, x)
	}
	if tokens := e.idCounts(schema.TopicTokens, "default", 1); len(tokens) != 10 {
		t.Fatalf("%d token ids", len(tokens))
	}
	for id, n := range e.idCounts(schema.TopicTokens, "default", 0) {
		if n != 1 {
			t.Fatalf("token %s published %d times", id, n)
		}
	}
}
