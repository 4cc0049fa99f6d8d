package api

import (
	"fmt"
	"net/http"
	"time"

	"github.com/parley-chat/parley/internal/parley"
)

// credentials is the body of register and login.
type credentials struct {
	Username string `json:"username"`
	Password string `json:"password"`
}

// session is the answer to register and login.
type session struct {
	Token     string      `json:"token"`
	ExpiresAt time.Time   `json:"expires_at"`
	User      parley.User `json:"user"`
}

// register creates an account and returns a token for it.
func (s *Server) register(w http.ResponseWriter, r *http.Request) {
	var in credentials
	if err := readJSON(w, r, &in); err != nil {
		s.writeError(w, r, err)
		return
	}
	u, err := s.svc.Register(r.Context(), in.Username, in.Password)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	s.users.put(u.ID, u)
	s.writeSession(w, r, http.StatusCreated, u)
}

// login checks a password and returns a token.
func (s *Server) login(w http.ResponseWriter, r *http.Request) {
	var in credentials
	if err := readJSON(w, r, &in); err != nil {
		s.writeError(w, r, err)
		return
	}
	u, err := s.svc.Login(r.Context(), in.Username, in.Password)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	s.writeSession(w, r, http.StatusOK, u)
}

func (s *Server) writeSession(w http.ResponseWriter, r *http.Request, status int, u parley.User) {
	tok, exp, err := s.issueToken(u.ID)
	if err != nil {
		s.writeError(w, r, fmt.Errorf("sign token: %w", err))
		return
	}
	writeJSON(w, status, session{Token: tok, ExpiresAt: exp.UTC(), User: u})
}

// me returns the token's user.
func (s *Server) me(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, map[string]any{"user": me(r).user})
}

// searchUsers lists users whose ID starts with the prefix parameter.
func (s *Server) searchUsers(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	limit, err := limitQuery(q.Get("limit"))
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	users, err := s.svc.SearchUsers(r.Context(), q.Get("prefix"), limit)
	if err != nil {
		s.writeError(w, r, fmt.Errorf("search users: %w", err))
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"users": nonNil(users)})
}

// nonNil returns an empty slice for nil, so lists encode as [] not null.
func nonNil[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}
