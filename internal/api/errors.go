package api

import (
	"context"
	"errors"
	"net/http"
	"time"

	"github.com/parley-chat/parley/internal/parley"
)

// The API's own errors. The service's errors (*parley.Error) carry their
// own codes; writeError maps both to responses by kind.
var (
	errRequestTooLarge = parley.Errorf(parley.ErrTooLarge, "request_too_large",
		"the request body exceeds %d bytes", maxRequestBytes)
	errInvalidUTF8 = parley.Errorf(parley.ErrInvalid, "invalid_utf8",
		"the request body is not valid UTF-8")
	errEmptyBody = parley.Errorf(parley.ErrInvalid, "invalid_json",
		"the request body is empty; send a JSON object")

	errNoToken = parley.Errorf(parley.ErrUnauthenticated, "unauthenticated",
		"send a token as Authorization: Bearer <token>")
	errTokenExpired = parley.Errorf(parley.ErrUnauthenticated, "token_expired",
		"the token has expired; get a new one")
	errInvalidToken = parley.Errorf(parley.ErrUnauthenticated, "invalid_token",
		"the token is not valid")
	errServerKeyRequired = parley.Errorf(parley.ErrForbidden, "server_key_required",
		"this route takes the server API key, not a user token")
	errUserTokenRequired = parley.Errorf(parley.ErrForbidden, "user_token_required",
		"this route takes a user token, not the server API key")

	errNoRoute = parley.Errorf(parley.ErrNotFound, "not_found", "no such route")
	errNoAdmin = parley.Errorf(parley.ErrUnavailable, "admin_unavailable",
		"topic administration is not available on this server")
	errShuttingDown = parley.Errorf(parley.ErrUnavailable, "shutting_down",
		"the server is shutting down")
	errInternal = &parley.Error{Kind: errors.New("internal"), Code: "internal",
		Message: "something went wrong on the server"}
	// errUnavailable answers a request that failed because the broker or
	// the store is away: the client may retry.
	errUnavailable = &parley.Error{Kind: parley.ErrUnavailable, Code: "unavailable",
		Message: "the server cannot reach its broker or store right now; retry shortly"}
)

// statusOf maps an error kind to an HTTP status; 0 for an unknown kind.
var statusOf = []struct {
	kind   error
	status int
}{
	{parley.ErrInvalid, http.StatusBadRequest},
	{parley.ErrTooLarge, http.StatusRequestEntityTooLarge},
	{parley.ErrUnauthenticated, http.StatusUnauthorized},
	{parley.ErrForbidden, http.StatusForbidden},
	{parley.ErrNotFound, http.StatusNotFound},
	{parley.ErrConflict, http.StatusConflict},
	{parley.ErrUnavailable, http.StatusServiceUnavailable},
}

// errorBody is the JSON body of every error response.
type errorBody struct {
	Error errorJSON `json:"error"`
}

type errorJSON struct {
	Code    string `json:"code"`
	Message string `json:"message"`
}

// classify returns the user-facing error and HTTP status for err. Errors
// that are not a *parley.Error of a known kind become 500 internal.
func classify(err error) (*parley.Error, int) {
	var pe *parley.Error
	if errors.As(err, &pe) {
		for _, k := range statusOf {
			if errors.Is(pe.Kind, k.kind) {
				return pe, k.status
			}
		}
	}
	if errors.Is(err, parley.ErrUnavailable) {
		return errUnavailable, http.StatusServiceUnavailable
	}
	return errInternal, http.StatusInternalServerError
}

// writeError is the one place an error becomes an HTTP response. Internal
// errors are logged with the route, never with the request body.
func (s *Server) writeError(w http.ResponseWriter, r *http.Request, err error) {
	pe, status := classify(err)
	if status == http.StatusInternalServerError {
		s.logger.Error("request failed", "route", r.Pattern, "method", r.Method, "err", err)
		// A store or broker that went away surfaces as an error of its own
		// driver; when the node is not ready now, tell the client to retry.
		ctx, cancel := context.WithTimeout(r.Context(), time.Second)
		if s.svc.Ready(ctx) != nil {
			pe, status = errUnavailable, http.StatusServiceUnavailable
		}
		cancel()
	}
	if status == http.StatusUnauthorized {
		w.Header().Set("WWW-Authenticate", authenticateHeader(pe))
	}
	writeJSON(w, status, errorBody{Error: errorJSON{Code: pe.Code, Message: pe.Message}})
}

// authenticateHeader returns the WWW-Authenticate challenge for a 401
// (RFC 6750): a bare one without a token, error="invalid_token" for a bad
// one.
func authenticateHeader(pe *parley.Error) string {
	switch pe.Code {
	case "token_expired", "invalid_token":
		return `Bearer realm="parley", error="invalid_token"`
	}
	return `Bearer realm="parley"`
}
