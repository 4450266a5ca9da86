package kafkaconn

import (
	"bytes"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

func TestSummaryLogger(t *testing.T) {
	var buf bytes.Buffer
	now := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	s := &summary{log: slog.New(slog.NewTextHandler(&buf, nil)), period: time.Minute, now: func() time.Time { return now }}
	for i := 0; i < 40; i++ { // 40 errors in a minute
		s.printf("fetch failed: %d", i)
		now = now.Add(time.Second)
	}
	now = now.Add(time.Minute)
	s.printf("fetch failed: again")
	out := buf.String()
	if n := strings.Count(out, "\n"); n != 3 {
		t.Fatalf("%d lines for 41 errors, want 3:\n%s", n, out)
	}
	if !strings.Contains(out, "count=39") || !strings.Contains(out, `last="fetch failed: 39"`) {
		t.Errorf("no summary:\n%s", out)
	}
}

func TestClientLogger(t *testing.T) {
	var buf bytes.Buffer
	info := ClientLogger(slog.New(slog.NewTextHandler(&buf, nil)), time.Minute)
	if got := info.Level(); got != kgo.LogLevelWarn {
		t.Errorf("Level at slog info = %v, want warn", got)
	}
	for range 10 {
		info.Log(kgo.LogLevelWarn, "unable to open connection to broker", "addr", "127.0.0.1:9092", "err", "connection refused")
	}
	info.Log(kgo.LogLevelInfo, "joining group")
	out := buf.String()
	if n := strings.Count(out, "\n"); n != 1 || !strings.Contains(out, "level=WARN") ||
		!strings.Contains(out, "unable to open connection to broker addr=127.0.0.1:9092 err=connection refused") {
		t.Errorf("10 warnings and an info message at slog info level logged:\n%s", out)
	}
	buf.Reset()
	debug := ClientLogger(slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug})), time.Minute)
	if got := debug.Level(); got != kgo.LogLevelInfo {
		t.Errorf("Level at slog debug = %v, want info", got)
	}
	debug.Log(kgo.LogLevelInfo, "joining group", "group", "g")
	if out := buf.String(); !strings.Contains(out, "level=DEBUG") || !strings.Contains(out, "group=g") {
		t.Errorf("info message at slog debug level:\n%s", out)
	}
}
