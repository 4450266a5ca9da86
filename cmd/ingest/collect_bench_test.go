package main

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tokentrail/tokentrail/falcon/falcontest"
)

// BenchmarkCollectBackfill runs `ingest collect --once` as a child process
// against an emulator without rate limits or faults and an in-process
// kfake cluster, backfilling N audit events. It reports
//   - events/s of the child's whole run,
//   - API requests per 1,000 events (audit operations, and all requests
//     including OAuth, tokens and settings) against the minimum for the page
//     and chunk sizes used: 1000/page + 1000/chunk,
//   - the child's peak RSS, which should stay flat as N grows. It is the
//     child's VmHWM, polled from /proc: rusage Maxrss of a child forked by
//     this (large) test process includes the parent's RSS at exec time.
//
// The numbers are recorded in docs/benchmarks.md (make bench).
func BenchmarkCollectBackfill(b *testing.B) {
	bin := buildIngest(b)
	const page, chunk = 1000, 500
	for _, n := range []int{250_000, 500_000, 1_000_000} {
		b.Run(fmt.Sprintf("events=%d", n), func(b *testing.B) {
			for i := 0; i < b.N; i++ {
				b.StopTimer()
				clock := falcontest.NewClock(time.Now().Add(-10 * time.Minute).Truncate(time.Second))
				e := newCollectEnv(b, falcontest.Config{Seed: int64(n), Clock: clock, RecordLimit: 100_000,
					Tenants: []falcontest.TenantConfig{{Tokens: 100, Events: n, Ties: 2000, Span: 30 * 24 * time.Hour}}})
				tn := e.emu.Tenants()[0]
				id, secret := tn.Credentials()
				cmd := exec.Command(bin, e.args("--once", "--start-time", "all", "--log-level", "warn",
					"--falcon-page-limit", fmt.Sprint(page), "--falcon-ids-per-read", fmt.Sprint(chunk))...)
				cmd.Env = append(os.Environ(), "FALCON_CLIENT_ID="+id, "FALCON_CLIENT_SECRET="+secret, "TOKENTRAIL_FINGERPRINT_KEY=bench")
				var out bytes.Buffer
				cmd.Stdout, cmd.Stderr = &out, &out
				b.StartTimer()
				start := time.Now()
				if err := cmd.Start(); err != nil {
					b.Fatal(err)
				}
				hwm := watchHWM(cmd.Process.Pid)
				err := cmd.Wait()
				elapsed := time.Since(start)
				b.StopTimer()
				peak := hwm()
				if err != nil {
					b.Fatalf("collect --once: %v\n%s", err, tail(out.String()))
				}
				audit, all := 0, 0
				for _, r := range e.emu.Requests() {
					all++
					if r.Operation == falcontest.OpAuditEventsQuery || r.Operation == falcontest.OpAuditEventsRead {
						audit++
					}
				}
				if got := len(e.idCounts("installation_tokens.audit_events", "", 0)); got != n {
					b.Fatalf("%d ids on the topic, want %d", got, n)
				}
				minimum := 1000.0/page + 1000.0/chunk
				b.ReportMetric(float64(n)/elapsed.Seconds(), "events/s")
				b.ReportMetric(float64(audit)*1000/float64(n), "audit-req/1000ev")
				b.ReportMetric(float64(all)*1000/float64(n), "all-req/1000ev")
				b.ReportMetric(minimum, "min-req/1000ev")
				b.ReportMetric(float64(peak)/1024, "peak-RSS-MiB")
				b.StartTimer()
			}
		})
	}
}

// watchHWM polls the VmHWM (peak RSS, KiB) of a process until it exits and
// returns a function giving the largest value seen.
func watchHWM(pid int) func() int64 {
	var peak atomic.Int64
	done := make(chan struct{})
	go func() {
		defer close(done)
		path := fmt.Sprintf("/proc/%d/status", pid)
		for {
			data, err := os.ReadFile(path)
			if err != nil {
				return
			}
			kb := int64(-1)
			for _, line := range strings.Split(string(data), "\n") {
				if v, ok := strings.CutPrefix(line, "VmHWM:"); ok {
					kb, _ = strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
				}
			}
			if kb < 0 { // a zombie: the process has exited
				return
			}
			if kb > peak.Load() {
				peak.Store(kb)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}()
	return func() int64 {
		<-done
		return peak.Load()
	}
}
