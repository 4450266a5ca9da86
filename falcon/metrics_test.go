package falcon

import (
	"context"
	"net/http"
	"sync/atomic"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

func TestMetrics(t *testing.T) {
	reg := prometheus.NewRegistry()
	m := NewMetrics(reg)
	if NewMetrics(reg) == nil { // registering twice reuses the collectors
		t.Fatal("nil metrics")
	}
	var calls atomic.Int32
	f := newFake(t, func(w http.ResponseWriter, r *http.Request) {
		if calls.Add(1) == 1 {
			writeEnv(w, 500, errBody(500, "Internal Server Error: Please provide trace-id='x' to support"))
			return
		}
		settingsOK(w, r)
	})
	c := f.client(func(c *Config) { c.Metrics = m })
	if _, err := c.GetCustomerSettings(context.Background()); err != nil {
		t.Fatal(err)
	}
	if got := testutil.ToFloat64(m.requests.WithLabelValues("customer_settings_read", "500")); got != 1 {
		t.Errorf("500 count %v", got)
	}
	if got := testutil.ToFloat64(m.requests.WithLabelValues("customer_settings_read", "200")); got != 1 {
		t.Errorf("200 count %v", got)
	}
	if got := testutil.ToFloat64(m.requests.WithLabelValues("oauth2_token", "201")); got != 1 {
		t.Errorf("token count %v", got)
	}
	if got := testutil.ToFloat64(m.retries.WithLabelValues("customer_settings_read")); got != 1 {
		t.Errorf("retries %v", got)
	}
	if n := testutil.CollectAndCount(reg, "tokentrail_falcon_request_duration_seconds"); n != 2 {
		t.Errorf("duration series %d", n)
	}
	names := []string{"tokentrail_falcon_requests_total", "tokentrail_falcon_retries_total",
		"tokentrail_falcon_request_duration_seconds", "tokentrail_falcon_cooldown_seconds_total"}
	if n := testutil.CollectAndCount(reg, names...); n < 4 {
		t.Errorf("%d series", n)
	}

	// nil Metrics is accepted everywhere.
	var nilM *Metrics
	nilM.request("x", 200, 0)
	nilM.retry("x")
	nilM.addCooldown(1)
	c2 := f.client(nil)
	if _, err := c2.GetCustomerSettings(context.Background()); err != nil {
		t.Fatal(err)
	}
}
