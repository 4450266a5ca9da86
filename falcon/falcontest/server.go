package falcontest

import (
	"errors"
	"fmt"
	"net"
	"net/http"
	"time"
)

// Server is an Emulator listening on a loopback port, in the manner of httptest.Server.
type Server struct {
	// URL is the base URL, http://127.0.0.1:port, with no trailing slash. Use it as the API host.
	URL string

	emu       *Emulator
	srv       *http.Server
	listener  net.Listener
	transport *http.Transport
	done      chan struct{}
}

// NewServer builds an emulator from cfg and serves it on 127.0.0.1 at a free port. Like httptest.NewServer
// it panics when it cannot start, here also when cfg is invalid. Close it when done.
func NewServer(cfg Config) *Server {
	e, err := New(cfg)
	if err != nil {
		panic(fmt.Sprintf("falcontest: %v", err))
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		panic(fmt.Sprintf("falcontest: listen: %v", err))
	}
	s := &Server{
		URL: "http://" + l.Addr().String(), emu: e, listener: l, done: make(chan struct{}),
		srv:       &http.Server{Handler: e, ReadHeaderTimeout: 10 * time.Second},
		transport: &http.Transport{MaxIdleConnsPerHost: 64, IdleConnTimeout: 30 * time.Second},
	}
	go func() {
		defer close(s.done)
		if err := s.srv.Serve(l); err != nil && !errors.Is(err, http.ErrServerClosed) {
			panic(fmt.Sprintf("falcontest: serve: %v", err))
		}
	}()
	return s
}

// Emulator returns the emulator behind the server, for control and inspection.
func (s *Server) Emulator() *Emulator { return s.emu }

// Client returns an HTTP client for the server; its idle connections close with the server.
func (s *Server) Client() *http.Client { return &http.Client{Transport: s.transport} }

// Close stops the server and closes every connection, then waits for the serve loop to end.
func (s *Server) Close() {
	s.srv.Close()
	<-s.done
	s.transport.CloseIdleConnections()
}
