package api

import (
	"io"
	"net/http"
	"time"

	"github.com/parley-chat/parley/internal/parley"
)

// routes registers every route. Each is described in openapi.yaml.
func (s *Server) routes(ui http.Handler) {
	s.handle("POST /v1/auth/register", s.register)
	s.handle("POST /v1/auth/login", s.login)
	s.handle("GET /v1/me", s.user(s.me))
	s.handle("GET /v1/users", s.user(s.searchUsers))

	s.handle("POST /v1/dm/{user}/messages", s.user(s.sendDM))
	s.handle("GET /v1/dm/{user}/messages", s.user(s.dmHistory))
	s.handle("POST /v1/dm/{user}/read", s.user(s.markDMRead))

	s.handle("POST /v1/groups", s.user(s.createGroup))
	s.handle("GET /v1/groups", s.user(s.listGroups))
	s.handle("GET /v1/groups/{id}", s.user(s.group))
	s.handle("POST /v1/groups/{id}/members", s.user(s.addMember))
	s.handle("DELETE /v1/groups/{id}/members/{user}", s.user(s.removeMember))
	s.handle("PATCH /v1/groups/{id}/members/{user}", s.user(s.setRole))
	s.handle("POST /v1/groups/{id}/messages", s.user(s.sendGroup))
	s.handle("GET /v1/groups/{id}/messages", s.user(s.groupHistory))
	s.handle("POST /v1/groups/{id}/read", s.user(s.markGroupRead))

	s.handle("GET /v1/conversations", s.user(s.conversations))

	s.handle("POST /v1/notifications", s.server(s.notify))
	s.handle("GET /v1/notifications", s.user(s.inbox))
	s.handle("POST /v1/notifications/{id}/read", s.user(s.markNotificationRead))

	s.handle("GET /v1/admin/topics", s.server(s.topics))
	s.handle("PATCH /v1/admin/topics/{name}", s.server(s.updateTopic))
	s.handle("POST /v1/admin/groups/{id}/move", s.server(s.moveGroup))

	s.handleStream("GET /v1/ws", s.serveWS)
	s.handleStream("GET /v1/events", s.serveSSE)

	s.handle("GET /healthz", s.healthz)
	s.handle("GET /readyz", s.readyz)
	s.handle("GET /metrics", s.metrics.handler().ServeHTTP)
	s.handle("GET /v1/openapi.yaml", serveDoc(openapiDoc))
	s.handle("GET /v1/asyncapi.yaml", serveDoc(asyncapiDoc))

	// Unknown API paths get a JSON 404; everything else is the UI's.
	s.handle("/v1/", func(w http.ResponseWriter, r *http.Request) {
		s.writeError(w, r, errNoRoute)
	})
	if ui == nil {
		ui = http.HandlerFunc(textPage)
	}
	s.mux.Handle("/", ui)
}

// handle registers a route, counted and timed in the metrics.
func (s *Server) handle(pattern string, h http.HandlerFunc) {
	s.patterns = append(s.patterns, pattern)
	s.mux.Handle(pattern, s.metrics.instrument(pattern, h, true))
}

// handleStream registers a long-lived route: counted, but not timed, since
// its duration is the connection's.
func (s *Server) handleStream(pattern string, h http.HandlerFunc) {
	s.patterns = append(s.patterns, pattern)
	s.mux.Handle(pattern, s.metrics.instrument(pattern, h, false))
}

// textPage is the page at / when no UI is configured.
func textPage(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path != "/" {
		http.NotFound(w, r)
		return
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	io.WriteString(w, "Parley is running.\n\nAPI: /v1/openapi.yaml\n"+
		"Events and Kafka records: /v1/asyncapi.yaml\n")
}

// serveDoc serves an embedded YAML document.
func serveDoc(doc []byte) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/yaml; charset=utf-8")
		w.Header().Set("Cache-Control", "no-cache")
		w.Write(doc)
	}
}

// healthz answers 200 while the process runs.
func (s *Server) healthz(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
}

// readyzTimeout bounds the readiness probe's checks.
const readyzTimeout = 3 * time.Second

// readyz answers 200 when the service can take requests, 503 with the
// reason while it cannot.
func (s *Server) readyz(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := contextWithTimeout(r, readyzTimeout)
	defer cancel()
	if err := s.svc.Ready(ctx); err != nil {
		s.writeError(w, r, parley.Errorf(parley.ErrUnavailable, "not_ready", "not ready: %v", err))
		return
	}
	writeJSON(w, http.StatusOK, map[string]string{"status": "ready"})
}
