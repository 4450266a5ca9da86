package telemetry

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"sort"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Check reports whether one dependency is usable. It must return quickly;
// the server bounds it with CheckTimeout anyway.
type Check func(ctx context.Context) error

// Config configures the server. The zero value listens nowhere.
type Config struct {
	// Addr is the listen address; "" disables the server.
	Addr string
	// CheckTimeout bounds each readiness check; default 3s.
	CheckTimeout time.Duration
}

// Server exposes /metrics, /healthz and /readyz.
type Server struct {
	cfg      Config
	log      *slog.Logger
	registry *prometheus.Registry

	mu     sync.Mutex
	checks map[string]Check

	srv *http.Server
	ln  net.Listener
}

// New returns a server with a fresh registry holding the Go and process
// collectors. Components register their metrics on Registry().
func New(cfg Config, log *slog.Logger) *Server {
	if cfg.CheckTimeout <= 0 {
		cfg.CheckTimeout = 3 * time.Second
	}
	if log == nil {
		log = slog.Default()
	}
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return &Server{cfg: cfg, log: log, registry: reg, checks: map[string]Check{}}
}

// Registry is where components register their metrics.
func (s *Server) Registry() *prometheus.Registry { return s.registry }

// AddCheck registers a readiness check under name.
func (s *Server) AddCheck(name string, c Check) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.checks[name] = c
}

// Handler returns the HTTP handler (useful in tests).
func (s *Server) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.Handle("/metrics", promhttp.HandlerFor(s.registry, promhttp.HandlerOpts{Registry: s.registry}))
	mux.HandleFunc("/healthz", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain")
		_, _ = w.Write([]byte("ok\n"))
	})
	mux.HandleFunc("/readyz", s.readyz)
	return mux
}

func (s *Server) readyz(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	names := make([]string, 0, len(s.checks))
	for n := range s.checks {
		names = append(names, n)
	}
	checks := make(map[string]Check, len(s.checks))
	for n, c := range s.checks {
		checks[n] = c
	}
	s.mu.Unlock()
	sort.Strings(names)

	type result struct {
		name string
		err  error
	}
	results := make(chan result, len(names))
	for _, n := range names {
		go func(n string) {
			ctx, cancel := context.WithTimeout(r.Context(), s.cfg.CheckTimeout)
			defer cancel()
			results <- result{n, checks[n](ctx)}
		}(n)
	}
	status := map[string]string{}
	ready := true
	for range names {
		res := <-results
		if res.err != nil {
			ready = false
			status[res.name] = res.err.Error()
		} else {
			status[res.name] = "ok"
		}
	}
	w.Header().Set("Content-Type", "application/json")
	if !ready {
		w.WriteHeader(http.StatusServiceUnavailable)
	}
	_ = json.NewEncoder(w).Encode(map[string]any{"ready": ready, "checks": status})
}

// Start listens and serves in the background. It is a no-op when Addr is "".
func (s *Server) Start() error {
	if s.cfg.Addr == "" {
		return nil
	}
	ln, err := net.Listen("tcp", s.cfg.Addr)
	if err != nil {
		return err
	}
	s.ln = ln
	s.srv = &http.Server{Handler: s.Handler(), ReadHeaderTimeout: 5 * time.Second}
	go func() {
		if err := s.srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			s.log.Error("metrics server stopped", "err", err)
		}
	}()
	s.log.Info("serving metrics", "addr", ln.Addr().String())
	return nil
}

// Addr is the address actually listened on ("" before Start).
func (s *Server) Addr() string {
	if s.ln == nil {
		return ""
	}
	return s.ln.Addr().String()
}

// Shutdown stops the server.
func (s *Server) Shutdown(ctx context.Context) error {
	if s.srv == nil {
		return nil
	}
	return s.srv.Shutdown(ctx)
}
