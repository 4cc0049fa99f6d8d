package api

import (
	"net/http"

	"github.com/parley-chat/parley/internal/node"
	"github.com/parley-chat/parley/internal/parley"
)

// newGroupBody is the body of a group creation.
type newGroupBody struct {
	ID       string   `json:"id"`
	Name     string   `json:"name"`
	Members  []string `json:"members"`
	Strategy string   `json:"strategy"`
}

// memberBody is the body of adding a member or changing a role.
type memberBody struct {
	User string `json:"user"`
	Role string `json:"role"`
}

// roleBody is the body of a role change.
type roleBody struct {
	Role string `json:"role"`
}

// groupJSON is a group with its members.
type groupJSON struct {
	parley.Group
	Members []parley.Member `json:"members"`
}

// createGroup creates a group owned by the caller.
func (s *Server) createGroup(w http.ResponseWriter, r *http.Request) {
	var in newGroupBody
	if err := readJSONLimit(w, r, &in, maxGroupRequestBytes); err != nil {
		s.writeError(w, r, err)
		return
	}
	g, ms, err := s.svc.CreateGroup(r.Context(), me(r).user.ID, node.NewGroup{
		ID: in.ID, Name: in.Name, Members: in.Members, Strategy: in.Strategy,
	})
	s.writeResult(w, r, http.StatusCreated, groupJSON{g, nonNil(ms)}, err)
}

// listGroups lists the caller's groups.
func (s *Server) listGroups(w http.ResponseWriter, r *http.Request) {
	gs, err := s.svc.Groups(r.Context(), me(r).user.ID)
	s.writeResult(w, r, http.StatusOK, map[string]any{"groups": nonNil(gs)}, err)
}

// group returns the path's group with its members.
func (s *Server) group(w http.ResponseWriter, r *http.Request) {
	g, ms, err := s.svc.Group(r.Context(), me(r).user.ID, r.PathValue("id"))
	s.writeResult(w, r, http.StatusOK, groupJSON{g, nonNil(ms)}, err)
}

// addMember adds a user to the path's group.
func (s *Server) addMember(w http.ResponseWriter, r *http.Request) {
	var in memberBody
	if err := readJSON(w, r, &in); err != nil {
		s.writeError(w, r, err)
		return
	}
	if in.User == "" {
		s.writeError(w, r, requireField("user"))
		return
	}
	m, err := s.svc.AddMember(r.Context(), me(r).user.ID, r.PathValue("id"), in.User, in.Role)
	s.writeResult(w, r, http.StatusCreated, m, err)
}

// removeMember removes the path's user from the group; removing oneself
// is leaving.
func (s *Server) removeMember(w http.ResponseWriter, r *http.Request) {
	err := s.svc.RemoveMember(r.Context(), me(r).user.ID, r.PathValue("id"), r.PathValue("user"))
	s.writeResult(w, r, http.StatusNoContent, nil, err)
}

// setRole changes the role of the path's user in the group.
func (s *Server) setRole(w http.ResponseWriter, r *http.Request) {
	var in roleBody
	if err := readJSON(w, r, &in); err != nil {
		s.writeError(w, r, err)
		return
	}
	m, err := s.svc.SetRole(r.Context(), me(r).user.ID, r.PathValue("id"), r.PathValue("user"),
		in.Role)
	s.writeResult(w, r, http.StatusOK, m, err)
}
