package progress

import (
	"bytes"
	"encoding/json"
	"log/slog"
	"os"
	"strings"
	"sync"
	"testing"
	"time"
)

// fakeClock is an injectable clock safe for concurrent use.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock() *fakeClock { return &fakeClock{t: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)} }

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// syncBuffer is a bytes.Buffer the reporter's goroutine and the test can
// share.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func discard() *slog.Logger { return slog.New(slog.DiscardHandler) }

func TestRateAndETA(t *testing.T) {
	c := newClock()
	r := New(Config{Name: "audit", Total: 1000, Now: c.Now, Logger: discard()})

	s := r.Snapshot()
	if s.Events != 0 || s.Rate != 0 || s.ETAKnown {
		t.Fatalf("at start: %+v, want 0 events, rate 0, no ETA", s)
	}

	c.Advance(10 * time.Second)
	r.Add(100)
	s = r.Snapshot()
	if s.Rate != 10 || !s.ETAKnown || s.ETA != 90*time.Second || s.Elapsed != 10*time.Second {
		t.Fatalf("after 100 in 10s: rate %v eta %v (%v) elapsed %v; want 10/s, 90s", s.Rate, s.ETA, s.ETAKnown, s.Elapsed)
	}
	if f, ok := s.Fraction(); !ok || f != 0.1 {
		t.Errorf("fraction = %v, %v; want 0.1", f, ok)
	}

	c.Advance(10 * time.Second)
	r.Add(300)
	s = r.Snapshot()
	// 400 events in 20s (younger than the 30s window: whole-run average).
	if s.Rate != 20 || s.ETA != 30*time.Second {
		t.Fatalf("after 400 in 20s: rate %v eta %v; want 20/s, 30s", s.Rate, s.ETA)
	}
}

func TestRateFollowsTheWindow(t *testing.T) {
	c := newClock()
	r := New(Config{Total: 10000, RateWindow: 30 * time.Second, Now: c.Now, Logger: discard()})
	// 60s at 10/s, sampled every 5s.
	for i := 0; i < 12; i++ {
		c.Advance(5 * time.Second)
		r.Add(50)
		r.Snapshot()
	}
	if s := r.Snapshot(); s.Rate != 10 {
		t.Fatalf("steady rate = %v, want 10", s.Rate)
	}
	// Stall 15s: the last 30s hold 150 events.
	for i := 0; i < 3; i++ {
		c.Advance(5 * time.Second)
		r.Snapshot()
	}
	if s := r.Snapshot(); s.Rate != 5 || s.ETA != time.Duration(9400/5)*time.Second {
		t.Fatalf("half-stalled rate = %v eta %v, want 5/s and %v", s.Rate, s.ETA, time.Duration(9400/5)*time.Second)
	}
	// Stall a full window: no progress, no estimate.
	for i := 0; i < 3; i++ {
		c.Advance(5 * time.Second)
		r.Snapshot()
	}
	if s := r.Snapshot(); s.Rate != 0 || s.ETAKnown {
		t.Fatalf("stalled: rate %v, ETA known %v; want 0 and unknown", s.Rate, s.ETAKnown)
	}
	if n := len(r.samples); n > 66 {
		t.Errorf("%d samples kept, want at most 66", n)
	}
}

func TestSamplesStayBounded(t *testing.T) {
	c := newClock()
	r := New(Config{RateWindow: time.Second, Now: c.Now, Logger: discard()})
	for i := 0; i < 10000; i++ {
		c.Advance(time.Millisecond)
		r.Add(1)
		r.Snapshot()
	}
	if n := len(r.samples); n > 66 {
		t.Errorf("%d samples kept after 10000 snapshots, want at most 66", n)
	}
	if s := r.Snapshot(); s.Rate < 990 || s.Rate > 1010 {
		t.Errorf("rate = %v, want ~1000/s", s.Rate)
	}
}

func TestUnknownThenKnownTotal(t *testing.T) {
	c := newClock()
	r := New(Config{Now: c.Now, Logger: discard()})
	c.Advance(4 * time.Second)
	r.Add(200)
	s := r.Snapshot()
	if _, ok := s.Fraction(); ok || s.ETAKnown || s.Rate != 50 {
		t.Fatalf("unknown total: %+v; want no fraction, no ETA, rate 50", s)
	}
	r.SetTotal(1200)
	if s := r.Snapshot(); !s.ETAKnown || s.ETA != 20*time.Second {
		t.Fatalf("after SetTotal: ETA %v (%v), want 20s", s.ETA, s.ETAKnown)
	}
}

func TestInitialCountsForPercentNotRate(t *testing.T) {
	c := newClock()
	r := New(Config{Total: 1000, Initial: 500, Now: c.Now, Logger: discard()})
	c.Advance(10 * time.Second)
	r.Add(100)
	s := r.Snapshot()
	f, _ := s.Fraction()
	if s.Events != 600 || f != 0.6 || s.Rate != 10 || s.ETA != 40*time.Second {
		t.Fatalf("resumed: %+v fraction %v; want 600 events, 0.6, 10/s, ETA 40s", s, f)
	}
}

func TestTotalReachedOrExceeded(t *testing.T) {
	c := newClock()
	r := New(Config{Total: 100, Now: c.Now, Logger: discard()})
	c.Advance(time.Second)
	r.Set(150) // totals from a query can be stale
	s := r.Snapshot()
	if f, _ := s.Fraction(); f != 1 || !s.ETAKnown || s.ETA != 0 {
		t.Fatalf("past total: fraction %v ETA %v (%v); want 1, 0", f, s.ETA, s.ETAKnown)
	}
	r.Set(10) // a counter going backwards never yields a negative rate
	c.Advance(time.Second)
	if s := r.Snapshot(); s.Rate < 0 {
		t.Fatalf("rate %v < 0", s.Rate)
	}
}

func TestLine(t *testing.T) {
	for _, tc := range []struct {
		name string
		s    Snapshot
		w    int
		want string
	}{
		{"start", Snapshot{Name: "audit", Unit: "events", Total: 1000}, 10,
			"audit [>         ]   0.0%  0/1.0k  0.0/s  ETA --"},
		{"middle", Snapshot{Name: "audit", Unit: "events", Events: 45300, Total: 100000, Rate: 1234.5, ETA: 44*time.Second + 300*time.Millisecond, ETAKnown: true}, 20,
			"audit [=========>          ]  45.3%  45.3k/100.0k  1.2k/s  ETA 44s"},
		{"done", Snapshot{Name: "tokens", Unit: "events", Events: 2500000, Total: 2500000, Rate: 7.25, ETAKnown: true}, 8,
			"tokens [========] 100.0%  2.50M/2.50M  7.2/s  ETA 0s"},
		{"unknown total", Snapshot{Name: "audit", Unit: "events", Events: 1234567, Rate: 512, Elapsed: 61500 * time.Millisecond}, 10,
			"audit 1.23M events  512/s  elapsed 1m2s"},
		{"no name", Snapshot{Unit: "rows", Events: 5, Total: 10, Rate: 1, ETA: 5 * time.Second, ETAKnown: true}, 4,
			"[==> ]  50.0%  5/10  1.0/s  ETA 5s"},
	} {
		if got := tc.s.Line(tc.w); got != tc.want {
			t.Errorf("%s:\n got %q\nwant %q", tc.name, got, tc.want)
		}
	}
}

func TestTruncate(t *testing.T) {
	if got := truncate("héllo world", 5); got != "héllo" {
		t.Errorf("truncate = %q", got)
	}
	if got := truncate("abc", 5); got != "abc" {
		t.Errorf("truncate short = %q", got)
	}
}

func TestLogLine(t *testing.T) {
	c := newClock()
	var buf bytes.Buffer
	r := New(Config{Name: "audit", Total: 1000, Now: c.Now, Logger: slog.New(slog.NewJSONHandler(&buf, nil))})
	c.Advance(20 * time.Second)
	r.Add(250)
	r.Log()
	var got map[string]any
	if err := json.Unmarshal(buf.Bytes(), &got); err != nil {
		t.Fatalf("log line %q: %v", buf.String(), err)
	}
	want := map[string]any{"msg": "progress", "task": "audit", "events": 250.0, "total": 1000.0, "percent": 25.0,
		"rate_per_sec": 12.5, "eta": "1m0s", "elapsed": "20s"}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s = %v, want %v (line %s)", k, got[k], v, buf.String())
		}
	}
}

func TestLogLineUnknown(t *testing.T) {
	var buf bytes.Buffer
	r := New(Config{Name: "tokens", Logger: slog.New(slog.NewTextHandler(&buf, nil))})
	r.Log()
	line := buf.String()
	if !strings.Contains(line, "eta=unknown") || strings.Contains(line, "percent=") || strings.Contains(line, "total=") {
		t.Errorf("unknown-total line = %q; want eta=unknown and no percent/total", line)
	}
}

func TestStopDrawsFinalBarAndLogs(t *testing.T) {
	c := newClock()
	var out syncBuffer
	var logs syncBuffer
	r := Start(Config{Name: "audit", Total: 100, Now: c.Now, Output: &out, Bar: BarOn, Width: 10,
		Interval: -1, RefreshInterval: time.Hour, Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	c.Advance(10 * time.Second)
	r.Add(100)
	s := r.Stop()
	if s.Events != 100 {
		t.Errorf("final snapshot events = %d", s.Events)
	}
	final := "\raudit [==========] 100.0%  100/100  10/s  ETA 0s\x1b[K\n"
	if got := out.String(); !strings.HasSuffix(got, final) {
		t.Errorf("bar output = %q, want it to end with %q", got, final)
	}
	if l := logs.String(); !strings.Contains(l, `msg="progress end"`) || !strings.Contains(l, "events=100") ||
		!strings.Contains(l, "avg_rate_per_sec=10") {
		t.Errorf("final log = %q", l)
	}
	// Stop is idempotent and does not draw or log again.
	before, beforeLogs := out.String(), logs.String()
	r.Stop()
	if out.String() != before || logs.String() != beforeLogs {
		t.Error("second Stop wrote output")
	}
}

func TestOneBarAtATime(t *testing.T) {
	var out1, out2, out3 syncBuffer
	cfg := func(w *syncBuffer) Config {
		return Config{Name: "x", Output: w, Bar: BarOn, Interval: -1, RefreshInterval: time.Hour, Logger: discard()}
	}
	a := Start(cfg(&out1))
	b := Start(cfg(&out2))
	b.Stop()
	a.Stop()
	if out1.String() == "" {
		t.Error("first reporter drew no bar")
	}
	if out2.String() != "" {
		t.Errorf("second concurrent reporter drew %q; only one bar may own the line", out2.String())
	}
	c := Start(cfg(&out3))
	c.Stop()
	if out3.String() == "" {
		t.Error("a reporter started after the first stopped drew no bar: ownership not released")
	}
}

func TestBarAutoSkipsNonTerminals(t *testing.T) {
	var buf syncBuffer
	r := Start(Config{Output: &buf, Interval: -1, RefreshInterval: time.Millisecond, Logger: discard()})
	r.Add(1)
	r.Stop()
	if buf.String() != "" {
		t.Errorf("BarAuto drew on a buffer: %q", buf.String())
	}
	f, err := os.CreateTemp(t.TempDir(), "out")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	r = Start(Config{Output: f, Interval: -1, RefreshInterval: time.Millisecond, Logger: discard()})
	r.Stop()
	if st, _ := f.Stat(); st.Size() != 0 {
		t.Errorf("BarAuto drew %d bytes on a regular file", st.Size())
	}
}

func TestPeriodicLogsAndRedraws(t *testing.T) {
	var out, logs syncBuffer
	r := Start(Config{Name: "audit", Total: 1000, Output: &out, Bar: BarOn, Interval: 5 * time.Millisecond,
		RefreshInterval: 2 * time.Millisecond, Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	defer r.Stop()
	var wg sync.WaitGroup
	for g := 0; g < 4; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 100; i++ {
				r.Add(1)
			}
		}()
	}
	wg.Wait()
	deadline := time.Now().Add(10 * time.Second)
	for strings.Count(logs.String(), "msg=progress") < 2 || strings.Count(out.String(), "\r") < 4 {
		if time.Now().After(deadline) {
			t.Fatalf("no periodic output: logs %q bar %q", logs.String(), out.String())
		}
		time.Sleep(5 * time.Millisecond)
	}
	// Before a log line the bar is cleared, so log text never trails the bar.
	if !strings.Contains(out.String(), "\r\x1b[K") {
		t.Errorf("bar was never cleared before a log line: %q", out.String())
	}
	if s := r.Stop(); s.Events != 400 {
		t.Errorf("events = %d, want 400", s.Events)
	}
}

func TestSpanMode(t *testing.T) {
	c := newClock()
	from := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	to := from.Add(100 * time.Hour)
	r := New(Config{Name: "audit", From: from, To: to, Total: 999, Now: c.Now, Logger: discard()})
	s := r.Snapshot()
	if f, ok := s.Fraction(); !ok || f != 0 || s.ETAKnown || s.Total != 0 {
		t.Fatalf("span start: %+v fraction %v %v; want 0%%, no ETA, Total ignored", s, f, ok)
	}
	// 10s of work moved the cursor 25h and published 5000 events.
	c.Advance(10 * time.Second)
	r.Add(5000)
	r.SetCursor(from.Add(25 * time.Hour))
	s = r.Snapshot()
	f, _ := s.Fraction()
	if f != 0.25 || s.Rate != 500 || !s.ETAKnown || s.ETA != 30*time.Second {
		t.Fatalf("span: fraction %v rate %v ETA %v (%v); want 0.25, 500/s, 30s", f, s.Rate, s.ETA, s.ETAKnown)
	}
	if got := s.Line(4); got != "audit [=>  ]  25.0%  5.0k events  500/s  ETA 30s" {
		t.Errorf("span line = %q", got)
	}
	var buf bytes.Buffer
	r.cfg.Logger = slog.New(slog.NewTextHandler(&buf, nil))
	r.Log()
	for _, want := range []string{"percent=25", "cursor=2025-01-02T01:00:00Z", "behind=75h0m0s", "eta=30s"} {
		if !strings.Contains(buf.String(), want) {
			t.Errorf("span log line %q lacks %s", buf.String(), want)
		}
	}
	// The end moves away (now - lag advanced): more to do, same speed.
	r.SetSpanEnd(to.Add(25 * time.Hour))
	if s := r.Snapshot(); s.ETA != 40*time.Second {
		t.Errorf("after SetSpanEnd: ETA %v, want 40s", s.ETA)
	}
	r.SetCursor(to.Add(25 * time.Hour))
	if s := r.Snapshot(); !s.ETAKnown || s.ETA != 0 {
		t.Errorf("cursor at the end: ETA %v (%v), want 0", s.ETA, s.ETAKnown)
	}
	// Outside span mode, SetCursor and SetSpanEnd do nothing.
	e := New(Config{Total: 10, Now: c.Now, Logger: discard()})
	e.SetCursor(to)
	e.SetSpanEnd(to)
	if s := e.Snapshot(); !s.To.IsZero() || s.Total != 10 {
		t.Errorf("events mode changed by span setters: %+v", s)
	}
}

func TestEmptySpan(t *testing.T) {
	at := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	s := Snapshot{From: at, Cursor: at, To: at}
	if f, ok := s.Fraction(); !ok || f != 1 {
		t.Errorf("empty span fraction = %v, %v; want 1 (nothing to do)", f, ok)
	}
}

func TestWriterKeepsLogLinesOffTheBar(t *testing.T) {
	var term syncBuffer // the terminal: bar and log lines share it
	log := slog.New(slog.NewTextHandler(Writer(&term), &slog.HandlerOptions{
		ReplaceAttr: func(_ []string, a slog.Attr) slog.Attr {
			if a.Key == slog.TimeKey {
				return slog.Attr{}
			}
			return a
		},
	}))
	// Without a bar the writer is transparent.
	log.Info("before")
	if got := term.String(); got != "level=INFO msg=before\n" {
		t.Fatalf("no bar: %q", got)
	}

	r := Start(Config{Name: "audit", Total: 10, Output: &term, Bar: BarOn, Width: 4, Interval: -1,
		RefreshInterval: time.Hour, Logger: log})
	deadline := time.Now().Add(10 * time.Second)
	for !strings.Contains(term.String(), "\raudit [") {
		if time.Now().After(deadline) {
			t.Fatal("bar never drawn")
		}
		time.Sleep(time.Millisecond)
	}
	mark := len(term.String())
	log.Info("elsewhere")
	got := term.String()[mark:]
	want := "\r\x1b[Klevel=INFO msg=elsewhere\n\raudit [>   ]   0.0%  0/10  0.0/s  ETA --\x1b[K"
	if got != want {
		t.Errorf("log line with a bar shown:\n got %q\nwant %q", got, want)
	}
	r.Stop()
	// After Stop the line is finished; later log lines pass straight through.
	mark = len(term.String())
	log.Info("after")
	if got := term.String()[mark:]; got != "level=INFO msg=after\n" {
		t.Errorf("after Stop: %q", got)
	}
}
