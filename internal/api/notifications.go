package api

import (
	"errors"
	"net/http"

	"github.com/parley-chat/parley/internal/parley"
)

// notify sends a notification on behalf of the API key's holder. The body
// is the envelope producers write to the notifications topic, except that
// "to" is required here: a forgotten field must not become a broadcast.
func (s *Server) notify(w http.ResponseWriter, r *http.Request) {
	var in parley.Envelope
	if err := readJSON(w, r, &in); err != nil {
		s.writeError(w, r, err)
		return
	}
	if len(in.To) == 0 || string(in.To) == "null" {
		s.writeError(w, r, requireField("to"))
		return
	}
	n := parley.Notification{Priority: "normal"}
	if err := in.Apply(&n, s.now().UTC()); err != nil {
		var d *parley.DeadLetterError
		if errors.As(err, &d) {
			err = parley.Errorf(parley.ErrInvalid, d.Reason, "%s", d.Detail)
		}
		s.writeError(w, r, err)
		return
	}
	n, err := s.svc.Notify(r.Context(), n)
	s.writeResult(w, r, http.StatusCreated, n, err)
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
