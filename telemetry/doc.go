// Package telemetry serves what operators watch: Prometheus metrics,
// /healthz (the process is alive) and /readyz (its dependencies answer).
package telemetry
