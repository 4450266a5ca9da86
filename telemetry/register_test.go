package telemetry_test

import (
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/tokentrail/tokentrail/telemetry"
)

func TestRegister(t *testing.T) {
	reg := prometheus.NewRegistry()
	opts := prometheus.CounterOpts{Name: "tokentrail_test_total", Help: "Test."}
	first, err := telemetry.Register(reg, prometheus.NewCounter(opts))
	if err != nil {
		t.Fatal(err)
	}
	second, err := telemetry.Register(reg, prometheus.NewCounter(opts))
	if err != nil || second != first {
		t.Fatalf("second registration: %v, same collector %v", err, second == first)
	}
	second.Inc()
	if got := testCounterValue(t, reg); got != 1 {
		t.Errorf("shared counter = %v, want 1", got)
	}
	// The same name with labels is a different metric: an error, not a share.
	if _, err := telemetry.Register(reg, prometheus.NewCounterVec(opts, []string{"x"})); err == nil {
		t.Error("a conflicting registration was accepted")
	}
	if c, err := telemetry.Register(nil, prometheus.NewCounter(opts)); err != nil || c == nil {
		t.Errorf("nil registry: %v, %v", c, err)
	}
}

func testCounterValue(t *testing.T, reg *prometheus.Registry) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil || len(mfs) != 1 {
		t.Fatalf("gather: %v, %d families", err, len(mfs))
	}
	return mfs[0].GetMetric()[0].GetCounter().GetValue()
}
