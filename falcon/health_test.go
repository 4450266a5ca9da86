package falcon

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strings"
	"syscall"
	"testing"
	"time"
)

// A failure streak logs one WARN per kind, then ERROR after escalateAfter
// and every escalateEvery, and INFO when requests succeed again.
func TestHealthEscalation(t *testing.T) {
	var buf bytes.Buffer
	log := slog.New(slog.NewTextHandler(&buf, nil))
	now := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	h := &health{now: func() time.Time { return now }}
	ctx := context.Background()
	refused := fmt.Errorf("dial: %w", syscall.ECONNREFUSED)
	dns := &net.DNSError{Err: "no such host", Name: "api.example"}
	for i := 0; i < 3; i++ {
		h.failed(ctx, log, "op", "u", refused, time.Minute)
		now = now.Add(5 * time.Second)
	}
	h.failed(ctx, log, "op", "u", dns, time.Minute)
	if err := h.failure(); err == nil || !strings.Contains(err.Error(), "DNS lookup failed since") || !errors.Is(err, dns) {
		t.Errorf("failure() = %v", err)
	}
	for i := 0; i < 12*7; i++ { // 7 minutes more
		now = now.Add(5 * time.Second)
		h.failed(ctx, log, "op", "u", refused, time.Minute)
	}
	h.succeeded(ctx, log)
	out := buf.String()
	if n := strings.Count(out, "level=WARN"); n != 2 {
		t.Errorf("%d WARN lines, want 2 (one per cause):\n%s", n, out)
	}
	if n := strings.Count(out, "level=ERROR"); n != 2 {
		t.Errorf("%d ERROR lines, want 2 (after 1m, after 6m):\n%s", n, out)
	}
	if !strings.Contains(out, `level=INFO msg="falcon API recovered"`) || h.failure() != nil {
		t.Errorf("no recovery:\n%s", out)
	}

	// A lone 5xx is not worth a line; two in a row are.
	buf.Reset()
	h.failed(ctx, log, "op", "u", &APIError{Operation: "op", StatusCode: 503}, time.Minute)
	h.succeeded(ctx, log)
	if buf.Len() != 0 {
		t.Errorf("a lone 503 logged:\n%s", buf.String())
	}
	h.failed(ctx, log, "op", "u", &APIError{Operation: "op", StatusCode: 503}, time.Minute)
	h.failed(ctx, log, "op", "u", &APIError{Operation: "op", StatusCode: 503}, time.Minute)
	h.succeeded(ctx, log)
	if out := buf.String(); strings.Count(out, "level=WARN") != 1 || !strings.Contains(out, `cause="HTTP 503"`) || !strings.Contains(out, "recovered") {
		t.Errorf("two 503s in a row:\n%s", out)
	}
}
