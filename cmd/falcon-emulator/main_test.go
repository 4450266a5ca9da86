package main

import (
	"bufio"
	"context"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestBadFlags(t *testing.T) {
	for _, tc := range []struct {
		args []string
		flag string
	}{
		{[]string{"--no-such-flag"}, "--no-such-flag"},
		{[]string{"--tenants", "zero"}, "--tenants"},
		{[]string{"--tenants", "0"}, "--tenants"},
		{[]string{"--events", "10", "--ties", "20"}, "--ties"},
		{[]string{"--late-fraction", "1.5"}, "--late-fraction"},
		{[]string{"--fault-5xx-rate", "-0.1"}, "--fault-5xx-rate"},
		{[]string{"--token-ttl", "0s"}, "--token-ttl"},
		{[]string{"--activity-interval", "soon"}, "--activity-interval"},
	} {
		var stdout, stderr strings.Builder
		code := run(context.Background(), tc.args, &stdout, &stderr)
		msg := stderr.String()
		if code != 2 || strings.Count(msg, "\n") != 1 || !strings.Contains(msg, tc.flag) {
			t.Errorf("%v: exit %d, stderr %q; want exit 2 and one line naming %s", tc.args, code, msg, tc.flag)
		}
	}
}

func TestHelp(t *testing.T) {
	var stdout, stderr strings.Builder
	if code := run(context.Background(), []string{"--help"}, &stdout, &stderr); code != 0 || !strings.Contains(stdout.String(), "--fault-reset-rate") {
		t.Fatalf("help: exit %d, %q", code, stdout.String())
	}
}

// lockedBuffer lets the test read what run writes concurrently.
type lockedBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

func TestServeAndShutdown(t *testing.T) {
	pr, pw := io.Pipe()
	var stderr lockedBuffer
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan int, 1)
	go func() {
		done <- run(ctx, []string{"--listen", "127.0.0.1:0", "--tenants", "2", "--mssp", "--tokens", "5", "--events", "200",
			"--ties", "20", "--activity-interval", "5ms", "--rate-limit", "1000", "--seed", "3"}, pw, &stderr)
		pw.Close()
	}()
	lines := bufio.NewScanner(pr)
	var out []string
	for len(out) < 3 && lines.Scan() {
		out = append(out, lines.Text())
	}
	go io.Copy(io.Discard, pr)
	if len(out) < 3 {
		t.Fatalf("start output %q, stderr %q", out, stderr.String())
	}
	base := regexp.MustCompile(`http://127\.0\.0\.1:\d+`).FindString(out[0])
	m := regexp.MustCompile(`cid=(\w+) region=(\S+) client_id=(\w+)`).FindStringSubmatch(out[1])
	if base == "" || m == nil || m[2] != "us-1" || !strings.Contains(out[1], "member_cids=1") || !strings.Contains(out[2], "region=us-2") {
		t.Fatalf("start output %q", out)
	}
	if strings.Contains(strings.Join(out, "\n"), "client_secret") {
		t.Fatal("secret printed without --print-secrets")
	}
	// The printed client exists: a wrong secret is 403, not 400.
	resp, err := http.PostForm(base+"/oauth2/token", url.Values{"client_id": {m[3]}, "client_secret": {"wrong"}})
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusForbidden || resp.Header.Get("X-RateLimit-Limit") != "300" {
		t.Fatalf("token request: %d %v", resp.StatusCode, resp.Header)
	}
	cancel()
	select {
	case code := <-done:
		if code != 0 {
			t.Fatalf("exit %d, stderr %q", code, stderr.String())
		}
	case <-time.After(10 * time.Second):
		t.Fatal("no shutdown")
	}
}

func TestPrintSecrets(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	var stdout, stderr lockedBuffer
	done := make(chan int, 1)
	go func() {
		done <- run(ctx, []string{"--listen", "127.0.0.1:0", "--events", "0", "--ties", "0", "--tokens", "0", "--print-secrets"}, &stdout, &stderr)
	}()
	deadline := time.Now().Add(10 * time.Second)
	for !strings.Contains(stdout.String(), "client_secret=") {
		if time.Now().After(deadline) {
			t.Fatalf("no secret printed: %q %q", stdout.String(), stderr.String())
		}
		time.Sleep(5 * time.Millisecond)
	}
	cancel()
	if code := <-done; code != 0 {
		t.Fatalf("exit %d", code)
	}
}
