package api

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"errors"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/parley-chat/parley/internal/parley"
)

// identity is who made a request with a user token.
type identity struct {
	user parley.User
	exp  time.Time // when the token expires
}

type identityKey struct{}

// me returns the identity that s.user put in the request's context.
func me(r *http.Request) identity {
	id, _ := r.Context().Value(identityKey{}).(identity)
	return id
}

// user wraps a handler of a user route: it admits requests with a valid
// user token and refuses the API key.
func (s *Server) user(h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		id, err := s.authUser(r, bearer(r))
		if err != nil {
			s.writeError(w, r, err)
			return
		}
		h(w, r.WithContext(context.WithValue(r.Context(), identityKey{}, id)))
	}
}

// server wraps a handler of a server route: it admits requests with the API
// key and refuses user tokens.
func (s *Server) server(h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if err := s.authServer(bearer(r)); err != nil {
			s.writeError(w, r, err)
			return
		}
		h(w, r)
	}
}

// bearer returns the token of an "Authorization: Bearer" header, "" when
// there is none.
func bearer(r *http.Request) string {
	scheme, tok, ok := strings.Cut(r.Header.Get("Authorization"), " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return ""
	}
	return strings.TrimSpace(tok)
}

// streamToken returns the token of a WebSocket or SSE request: the bearer
// header, else the token query parameter.
func streamToken(r *http.Request) string {
	if tok := bearer(r); tok != "" {
		return tok
	}
	return r.URL.Query().Get("token")
}

// authUser checks a user token and returns its user, created on first use.
func (s *Server) authUser(r *http.Request, tok string) (identity, error) {
	if tok == "" {
		return identity{}, errNoToken
	}
	if s.isAPIKey(tok) {
		return identity{}, errUserTokenRequired
	}
	sub, exp, err := s.parseToken(tok)
	if err != nil {
		return identity{}, err
	}
	u, err := s.ensureUser(r.Context(), sub)
	if err != nil {
		return identity{}, err
	}
	return identity{user: u, exp: exp}, nil
}

// authServer checks the API key.
func (s *Server) authServer(tok string) error {
	switch {
	case tok == "":
		return errNoToken
	case s.isAPIKey(tok):
		return nil
	}
	if _, _, err := s.parseToken(tok); err == nil {
		return errServerKeyRequired
	}
	return errInvalidToken
}

// hashKey hashes the API key, so comparing it takes the same time whatever
// the length of the guess.
func hashKey(key string) [32]byte { return sha256.Sum256([]byte(key)) }

func (s *Server) isAPIKey(tok string) bool {
	h := hashKey(tok)
	return subtle.ConstantTimeCompare(h[:], s.apiKey[:]) == 1
}

// parseToken checks a user token: HS256 only, signed with the secret, with
// an exp in the future and a sub that is a valid user ID.
func (s *Server) parseToken(tok string) (sub string, exp time.Time, err error) {
	if t, ok := s.tokens.get(tok); ok {
		if !s.now().Before(t.exp) {
			return "", time.Time{}, errTokenExpired
		}
		return t.sub, t.exp, nil
	}
	sub, exp, err = s.verifyToken(tok)
	if err == nil {
		s.tokens.put(tok, verifiedToken{sub: sub, exp: exp})
	}
	return sub, exp, err
}

// verifyToken checks a token's signature and claims.
func (s *Server) verifyToken(tok string) (sub string, exp time.Time, err error) {
	var claims jwt.RegisteredClaims
	key := func(*jwt.Token) (any, error) { return s.secret, nil }
	_, err = jwt.ParseWithClaims(tok, &claims, key,
		jwt.WithValidMethods([]string{jwt.SigningMethodHS256.Alg()}),
		jwt.WithExpirationRequired(),
		jwt.WithTimeFunc(s.now))
	switch {
	case errors.Is(err, jwt.ErrTokenExpired):
		return "", time.Time{}, errTokenExpired
	case err != nil:
		return "", time.Time{}, errInvalidToken
	case !parley.ValidUserID(claims.Subject):
		return "", time.Time{}, errInvalidToken
	}
	return claims.Subject, claims.ExpiresAt.Time, nil
}

// issueToken returns a token for the user and when it expires.
func (s *Server) issueToken(user string) (string, time.Time, error) {
	now := s.now()
	exp := now.Add(s.ttl)
	claims := jwt.RegisteredClaims{
		Subject:   user,
		IssuedAt:  jwt.NewNumericDate(now),
		ExpiresAt: jwt.NewNumericDate(exp),
	}
	tok, err := jwt.NewWithClaims(jwt.SigningMethodHS256, claims).SignedString(s.secret)
	if err != nil {
		return "", time.Time{}, err
	}
	return tok, exp.Truncate(time.Second), nil
}

// ensureUser returns the user a token names, creating it on first use.
func (s *Server) ensureUser(ctx context.Context, id string) (parley.User, error) {
	if u, ok := s.users.get(id); ok {
		return u, nil
	}
	u, err := s.svc.EnsureUser(ctx, id)
	if err != nil {
		return parley.User{}, err
	}
	s.users.put(u.ID, u)
	return u, nil
}

// Bounds of the server's caches; past its bound a cache starts again
// empty.
const (
	maxKnownUsers     = 100_000
	maxVerifiedTokens = 50_000
)

// boundedCache is a map, safe for concurrent use, that starts again empty
// once it holds max entries.
//
// The server keeps two: users known to exist, so that a request with a
// token costs no store write (users are never deleted, so an entry never
// goes stale), and tokens whose signature and claims were verified, with
// their subject and expiry, so that a client that sends with the same
// token again costs no HMAC and no JSON decoding (a verified token stays
// valid until it expires: the secret does not change while the server
// runs).
type boundedCache[V any] struct {
	max int
	// mu guards m.
	mu sync.Mutex
	m  map[string]V
}

func newBoundedCache[V any](max int) *boundedCache[V] {
	return &boundedCache[V]{max: max, m: map[string]V{}}
}

func (c *boundedCache[V]) get(key string) (V, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	v, ok := c.m[key]
	return v, ok
}

func (c *boundedCache[V]) put(key string, v V) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.m) >= c.max {
		clear(c.m)
	}
	c.m[key] = v
}

// verifiedToken is what the token cache keeps of a verified token.
type verifiedToken struct {
	sub string
	exp time.Time
}
