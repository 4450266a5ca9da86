package telemetry_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/tokentrail/tokentrail/telemetry"
)

func TestServer(t *testing.T) {
	s := telemetry.New(telemetry.Config{Addr: "127.0.0.1:0"}, nil)
	c := prometheus.NewCounter(prometheus.CounterOpts{Name: "tokentrail_test_total", Help: "test"})
	s.Registry().MustRegister(c)
	c.Add(3)
	var failing error
	s.AddCheck("dep", func(context.Context) error { return failing })
	if err := s.Start(); err != nil {
		t.Fatal(err)
	}
	defer s.Shutdown(context.Background())
	get := func(path string) (int, string) {
		res, err := http.Get("http://" + s.Addr() + path)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		return res.StatusCode, string(b)
	}
	if code, body := get("/metrics"); code != 200 || !strings.Contains(body, "tokentrail_test_total 3") {
		t.Errorf("/metrics = %d %q", code, body)
	}
	if code, _ := get("/healthz"); code != 200 {
		t.Errorf("/healthz = %d", code)
	}
	if code, body := get("/readyz"); code != 200 || !strings.Contains(body, `"dep":"ok"`) {
		t.Errorf("/readyz = %d %s", code, body)
	}
	failing = errors.New("clickhouse down")
	if code, body := get("/readyz"); code != 503 || !strings.Contains(body, "clickhouse down") {
		t.Errorf("/readyz when failing = %d %s", code, body)
	}
}
