// Package api is Parley's front end: the JSON HTTP API, the WebSocket
// endpoint and the Server-Sent Events stream, in front of a node.Service.
//
// Every route is listed in routes.go and described in openapi.yaml, which
// the server serves at /v1/openapi.yaml; the WebSocket frames and the Kafka
// records are described in asyncapi.yaml, served at /v1/asyncapi.yaml. A
// test fails when a route is missing from the OpenAPI document.
//
// Users authenticate with JWTs (HS256, signed with the server's secret);
// servers with the API key. Both travel as "Authorization: Bearer"; the
// WebSocket and SSE endpoints also take the token as ?token=, since browsers
// cannot set headers there. errors.go holds the one catalogue of API errors
// and the one function that turns an error into a response.
//
// Each WebSocket connection runs one read loop, and a writer goroutine
// while it has something to write; the writer owns every write, and is the
// only one to read the connection's hub subscription. A connection that
// cannot keep up is closed with a code that tells the client to resume
// from its last stream cursor. Server.Shutdown closes every live
// connection with "server shutting down".
//
// The package imports neither franz-go nor an SQL driver: it knows Kafka
// and the store only through node.Service and TopicAdmin. A test enforces
// this.
package api

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/parley-chat/parley/internal/node"
	"github.com/parley-chat/parley/internal/parley"
)

// Defaults for the zero values of Config.
const (
	DefaultTokenTTL     = 24 * time.Hour
	DefaultPingInterval = 25 * time.Second
)

// minSecretLen is the shortest JWT secret New accepts: HS256 keys shorter
// than the hash (32 bytes) weaken it; 16 keeps tests and demos easy.
const minSecretLen = 16

// Config configures the API.
type Config struct {
	// Service does the work behind every route. Required.
	Service *node.Service
	// Secret signs and checks user tokens (HS256). Required, at least 16
	// bytes; an app backend holding it mints its own tokens.
	Secret []byte
	// APIKey authenticates servers on the server routes (notifications,
	// admin). Required.
	APIKey string
	// TokenTTL is the lifetime of tokens that register and login issue;
	// zero means DefaultTokenTTL.
	TokenTTL time.Duration
	// Admin backs the /v1/admin routes; nil makes them answer 503.
	Admin TopicAdmin
	// Registry is served at /metrics and receives the API's own metrics;
	// nil means a registry of the API's metrics only.
	Registry *prometheus.Registry
	// UI is served at / (and every path no route claims); nil serves a
	// short text page.
	UI http.Handler
	// Logger receives the API's logs; nil discards them.
	Logger *slog.Logger
	// Now returns the current time; nil means time.Now. Tokens are issued
	// and checked against it.
	Now func() time.Time
	// PingInterval is how often WebSocket connections are pinged and SSE
	// streams get a comment; zero means DefaultPingInterval.
	PingInterval time.Duration
}

// Server is the API as an http.Handler. Its methods are safe for concurrent
// use.
type Server struct {
	svc     *node.Service
	secret  []byte
	apiKey  [32]byte // SHA-256 of the key, compared in constant time
	ttl     time.Duration
	admin   TopicAdmin
	logger  *slog.Logger
	now     func() time.Time
	ping    time.Duration
	metrics *metrics
	mux     *http.ServeMux
	users   *boundedCache[parley.User]
	tokens  *boundedCache[verifiedToken]
	drops   *rateLimitedLog

	// patterns lists every pattern registered on mux, for the tests.
	patterns []string

	// base is cancelled by Shutdown; live connections end with it.
	base     context.Context
	stopBase context.CancelFunc

	// mu guards conns, closing and drained.
	mu      sync.Mutex
	conns   int
	closing bool
	drained chan struct{} // closed once closing with no connection left
}

// New returns the API for cfg.
func New(cfg Config) (*Server, error) {
	if err := cfg.check(); err != nil {
		return nil, fmt.Errorf("new api: %w", err)
	}
	cfg = cfg.withDefaults()
	s := &Server{
		svc:     cfg.Service,
		secret:  cfg.Secret,
		apiKey:  hashKey(cfg.APIKey),
		ttl:     cfg.TokenTTL,
		admin:   cfg.Admin,
		logger:  cfg.Logger.With("component", "api"),
		now:     cfg.Now,
		ping:    cfg.PingInterval,
		mux:     http.NewServeMux(),
		users:   newBoundedCache[parley.User](maxKnownUsers),
		tokens:  newBoundedCache[verifiedToken](maxVerifiedTokens),
		drained: make(chan struct{}),
	}
	s.drops = newRateLimitedLog(s.logger, dropLogInterval)
	s.base, s.stopBase = context.WithCancel(context.Background())

	m, err := newMetrics(cfg.Registry)
	if err != nil {
		return nil, fmt.Errorf("new api: %w", err)
	}
	s.metrics = m
	s.routes(cfg.UI)
	return s, nil
}

func (cfg Config) check() error {
	switch {
	case cfg.Service == nil:
		return errors.New("no service")
	case len(cfg.Secret) < minSecretLen:
		return fmt.Errorf("jwt secret shorter than %d bytes", minSecretLen)
	case cfg.APIKey == "":
		return errors.New("no api key")
	}
	return nil
}

func (cfg Config) withDefaults() Config {
	if cfg.TokenTTL <= 0 {
		cfg.TokenTTL = DefaultTokenTTL
	}
	if cfg.Registry == nil {
		cfg.Registry = prometheus.NewRegistry()
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.PingInterval <= 0 {
		cfg.PingInterval = DefaultPingInterval
	}
	return cfg
}

// ServeHTTP serves a request.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.mux.ServeHTTP(w, r) }

// Shutdown closes every WebSocket connection with CloseShuttingDown, ends
// every SSE stream, refuses new ones, and waits until they are gone or ctx
// is done. Call it before http.Server.Shutdown, which waits for SSE
// handlers but not for WebSocket connections (they are hijacked).
func (s *Server) Shutdown(ctx context.Context) error {
	s.mu.Lock()
	if !s.closing {
		s.closing = true
		s.stopBase()
		if s.conns == 0 {
			close(s.drained)
		}
	}
	s.mu.Unlock()

	select {
	case <-s.drained:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("drain connections: %w", ctx.Err())
	}
}

// track counts a live connection in; it reports false once Shutdown began.
func (s *Server) track() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closing {
		return false
	}
	s.conns++
	return true
}

// untrack counts a live connection out.
func (s *Server) untrack() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.conns--
	if s.closing && s.conns == 0 {
		close(s.drained)
	}
}
