package api

import (
	"net/http"

	"github.com/parley-chat/parley/internal/node"
	"github.com/parley-chat/parley/internal/parley"
)

// sendBody is the body of a send.
type sendBody struct {
	Body     string `json:"body"`
	ClientID string `json:"client_id"`
}

// readBody is the body of a read mark.
type readBody struct {
	Cursor string `json:"cursor"`
}

// sendDM sends a direct message to the path's user.
func (s *Server) sendDM(w http.ResponseWriter, r *http.Request) {
	var in sendBody
	if err := readJSON(w, r, &in); err != nil {
		s.writeError(w, r, err)
		return
	}
	m, err := s.svc.SendDM(r.Context(), me(r).user.ID, r.PathValue("user"),
		node.SendInput{Body: in.Body, ClientID: in.ClientID})
	s.writeResult(w, r, http.StatusCreated, m, err)
}

// dmHistory returns a page of the DM with the path's user.
func (s *Server) dmHistory(w http.ResponseWriter, r *http.Request) {
	p, err := pageQuery(r)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	ms, err := s.svc.DMHistory(r.Context(), me(r).user.ID, r.PathValue("user"), p)
	s.writeResult(w, r, http.StatusOK, map[string]any{"messages": nonNil(ms)}, err)
}

// markDMRead moves the read cursor of the DM with the path's user.
func (s *Server) markDMRead(w http.ResponseWriter, r *http.Request) {
	conv := parley.DMConversation(me(r).user.ID, r.PathValue("user"))
	s.markRead(w, r, conv)
}

// sendGroup posts a message to the path's group.
func (s *Server) sendGroup(w http.ResponseWriter, r *http.Request) {
	var in sendBody
	if err := readJSON(w, r, &in); err != nil {
		s.writeError(w, r, err)
		return
	}
	m, err := s.svc.SendGroup(r.Context(), me(r).user.ID, r.PathValue("id"),
		node.SendInput{Body: in.Body, ClientID: in.ClientID})
	s.writeResult(w, r, http.StatusCreated, m, err)
}

// groupHistory returns a page of the path's group.
func (s *Server) groupHistory(w http.ResponseWriter, r *http.Request) {
	p, err := pageQuery(r)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	ms, err := s.svc.GroupHistory(r.Context(), me(r).user.ID, r.PathValue("id"), p)
	s.writeResult(w, r, http.StatusOK, map[string]any{"messages": nonNil(ms)}, err)
}

// markGroupRead moves the read cursor of the path's group.
func (s *Server) markGroupRead(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	if !parley.ValidGroupID(id) {
		s.writeError(w, r, parley.Errorf(parley.ErrNotFound, "group_not_found",
			"no group %q among yours", id))
		return
	}
	s.markRead(w, r, parley.GroupConversation(id))
}

func (s *Server) markRead(w http.ResponseWriter, r *http.Request, conv string) {
	var in readBody
	if err := readJSON(w, r, &in); err != nil {
		s.writeError(w, r, err)
		return
	}
	seq, err := parseCursor(in.Cursor)
	if err == nil {
		err = s.svc.MarkRead(r.Context(), me(r).user.ID, conv, seq)
	}
	s.writeResult(w, r, http.StatusNoContent, nil, err)
}

// conversations lists the user's conversations.
func (s *Server) conversations(w http.ResponseWriter, r *http.Request) {
	cs, err := s.svc.Conversations(r.Context(), me(r).user.ID)
	s.writeResult(w, r, http.StatusOK, map[string]any{"conversations": nonNil(cs)}, err)
}

// writeResult writes err when it is not nil, else v with the status; a
// 204 has no body.
func (s *Server) writeResult(w http.ResponseWriter, r *http.Request, status int, v any, err error) {
	switch {
	case err != nil:
		s.writeError(w, r, err)
	case status == http.StatusNoContent:
		w.WriteHeader(status)
	default:
		writeJSON(w, status, v)
	}
}
