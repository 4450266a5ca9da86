package kafkaconn

import (
	"bytes"
	"log/slog"
	"strings"
	"testing"
	"time"
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
