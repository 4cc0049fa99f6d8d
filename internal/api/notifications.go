package api

import (
	"encoding/json"
	"net/http"
	"time"

	"github.com/parley-chat/parley/internal/parley"
)

// maxTTL bounds a notification's ttl, as the notification processor does.
const maxTTL = 10 * 365 * 24 * time.Hour

// envelope is the body of POST /v1/notifications: the same envelope a
// producer writes to the notifications topic.
type envelope struct {
	To          json.RawMessage `json:"to"`
	Title       string          `json:"title"`
	Body        string          `json:"body"`
	Kind        string          `json:"kind"`
	Priority    string          `json:"priority"`
	Data        json.RawMessage `json:"data"`
	CollapseKey string          `json:"collapse_key"`
	TTL         json.RawMessage `json:"ttl"`
	ExpiresAt   *time.Time      `json:"expires_at"`
	ID          string          `json:"id"`
}

// notify sends a notification on behalf of the API key's holder.
func (s *Server) notify(w http.ResponseWriter, r *http.Request) {
	var in envelope
	if err := readJSON(w, r, &in); err != nil {
		s.writeError(w, r, err)
		return
	}
	n, err := s.toNotification(&in)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	n, err = s.svc.Notify(r.Context(), n)
	s.writeResult(w, r, http.StatusCreated, n, err)
}

// toNotification checks the envelope's fields that the service does not
// see in this form (to, ttl) and builds the notification.
func (s *Server) toNotification(e *envelope) (parley.Notification, error) {
	to, err := recipients(e.To)
	if err != nil {
		return parley.Notification{}, err
	}
	n := parley.Notification{
		To: to, Title: e.Title, Body: e.Body, Kind: e.Kind, Priority: e.Priority,
		CollapseKey: e.CollapseKey, ID: e.ID,
	}
	if len(e.Data) > 0 && string(e.Data) != "null" {
		n.Data = e.Data
	}
	if e.ExpiresAt != nil {
		n.ExpiresAt = e.ExpiresAt.UTC()
	}
	if len(e.TTL) > 0 && string(e.TTL) != "null" {
		ttl, err := parseTTL(e.TTL)
		if err != nil {
			return parley.Notification{}, err
		}
		if exp := s.now().UTC().Add(ttl); n.ExpiresAt.IsZero() || exp.Before(n.ExpiresAt) {
			n.ExpiresAt = exp
		}
	}
	return n, nil
}

// recipients parses "to": a user ID, a list of them, or "*" for everyone
// (nil).
func recipients(raw json.RawMessage) ([]string, error) {
	var one string
	if json.Unmarshal(raw, &one) == nil && one != "" {
		if one == "*" {
			return nil, nil
		}
		return []string{one}, nil
	}
	var many []string
	if json.Unmarshal(raw, &many) == nil && len(many) > 0 {
		return many, nil
	}
	if len(raw) == 0 || string(raw) == "null" {
		return nil, requireField("to")
	}
	return nil, parley.Errorf(parley.ErrInvalid, "invalid_recipient",
		`"to" must be a user ID, a non-empty list of them, or "*" for every user`)
}

// parseTTL parses a ttl: seconds, or a duration string such as "10m".
func parseTTL(raw json.RawMessage) (time.Duration, error) {
	var d time.Duration
	var secs float64
	var str string
	if json.Unmarshal(raw, &secs) == nil {
		d = time.Duration(secs * float64(time.Second))
	} else if json.Unmarshal(raw, &str) == nil {
		d, _ = time.ParseDuration(str)
	}
	if d <= 0 || d > maxTTL {
		return 0, parley.Errorf(parley.ErrInvalid, "invalid_ttl",
			`ttl must be a positive number of seconds or a duration such as "10m"`)
	}
	return d, nil
}

// inbox returns a page of the caller's notifications, newest first.
func (s *Server) inbox(w http.ResponseWriter, r *http.Request) {
	p, err := pageQuery(r)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	ns, unread, err := s.svc.Inbox(r.Context(), me(r).user.ID, p)
	out := map[string]any{"notifications": nonNil(ns), "unread": unread}
	s.writeResult(w, r, http.StatusOK, out, err)
}

// markNotificationRead marks the path's notification read.
func (s *Server) markNotificationRead(w http.ResponseWriter, r *http.Request) {
	err := s.svc.MarkNotificationRead(r.Context(), me(r).user.ID, r.PathValue("id"))
	s.writeResult(w, r, http.StatusNoContent, nil, err)
}
