package node

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
	"sync"
	"unicode/utf8"

	"golang.org/x/crypto/argon2"

	"github.com/parley-chat/parley/internal/parley"
)

// Argon2id parameters: OWASP's minimum (19 MiB, 2 passes) sits near 30 ms
// a hash on this class of machine; 1 lane because a node serves many
// logins at once and extra lanes only move work between them.
const (
	argonTime    = 2
	argonMemory  = 19 * 1024
	argonThreads = 1
	argonKeyLen  = 32
)

// Register creates an account with a password.
func (s *Service) Register(ctx context.Context, id, password string) (parley.User, error) {
	if !parley.ValidUserID(id) {
		return parley.User{}, errInvalidUserID(id)
	}
	if err := checkPassword(password); err != nil {
		return parley.User{}, err
	}
	u := parley.User{ID: id, CreatedAt: s.now().UTC()}
	if err := s.store.CreateUser(ctx, u, hashPassword(password)); err != nil {
		if errors.Is(err, parley.ErrConflict) {
			return parley.User{}, parley.Errorf(parley.ErrConflict, "username_taken",
				"the username %q is taken", id)
		}
		return parley.User{}, fmt.Errorf("create user: %w", err)
	}
	s.logger.Info("user registered", "user", id)
	return u, nil
}

// Login checks a password and returns the user. A wrong password and an
// unknown user give the same error.
func (s *Service) Login(ctx context.Context, id, password string) (parley.User, error) {
	bad := parley.Errorf(parley.ErrUnauthenticated, "invalid_credentials", "wrong username or password")
	if !parley.ValidUserID(id) || len(password) > parley.MaxPasswordBytes {
		return parley.User{}, bad
	}
	hash, err := s.store.PasswordHash(ctx, id)
	if errors.Is(err, parley.ErrNotFound) || err == nil && hash == nil {
		// Spend the time a check takes, so timing does not tell which
		// usernames exist.
		checkPassword(password)
		hashPassword(password)
		return parley.User{}, bad
	}
	if err != nil {
		return parley.User{}, fmt.Errorf("load password: %w", err)
	}
	if !verifyPassword(hash, password) {
		return parley.User{}, bad
	}
	return s.store.User(ctx, id)
}

// EnsureUser returns the user a token names, creating it on first use: an
// app backend that holds the server's secret mints tokens for its own
// users without registering them.
func (s *Service) EnsureUser(ctx context.Context, id string) (parley.User, error) {
	if !parley.ValidUserID(id) {
		return parley.User{}, errInvalidUserID(id)
	}
	u, err := s.store.EnsureUser(ctx, id, s.now().UTC())
	if err != nil {
		return parley.User{}, fmt.Errorf("ensure user: %w", err)
	}
	return u, nil
}

// User returns a user.
func (s *Service) User(ctx context.Context, id string) (parley.User, error) {
	if !parley.ValidUserID(id) {
		return parley.User{}, errUserNotFound(id)
	}
	if u, ok := s.users.get(id); ok {
		return u, nil
	}
	u, err := s.store.User(ctx, id)
	if errors.Is(err, parley.ErrNotFound) {
		return parley.User{}, errUserNotFound(id)
	} else if err != nil {
		return parley.User{}, err
	}
	s.users.put(u)
	return u, nil
}

// userCache remembers users that exist: accounts are never deleted, so a
// send to a known user needs no store round trip.
type userCache struct {
	// mu guards m.
	mu sync.RWMutex
	m  map[string]parley.User
}

const maxCachedUsers = 200_000

func (c *userCache) get(id string) (parley.User, bool) {
	c.mu.RLock()
	defer c.mu.RUnlock()
	u, ok := c.m[id]
	return u, ok
}

func (c *userCache) put(u parley.User) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.m == nil || len(c.m) >= maxCachedUsers {
		c.m = make(map[string]parley.User)
	}
	c.m[u.ID] = u
}

// SearchUsers lists users whose ID starts with prefix.
func (s *Service) SearchUsers(ctx context.Context, prefix string, limit int) ([]parley.User, error) {
	if limit <= 0 || limit > 50 {
		limit = 20
	}
	return s.store.SearchUsers(ctx, strings.ToLower(prefix), limit)
}

func errInvalidUserID(id string) error {
	return parley.Errorf(parley.ErrInvalid, "invalid_username",
		"username %q is not valid: use 1 to %d lowercase letters, digits, '_', '-' or '.', starting "+
			"with a letter or digit", id, parley.MaxUserIDLen)
}

func errUserNotFound(id string) error {
	return parley.Errorf(parley.ErrNotFound, "user_not_found", "no user %q", id)
}

func checkPassword(p string) error {
	n := utf8.RuneCountInString(p)
	switch {
	case !utf8.ValidString(p):
		return parley.Errorf(parley.ErrInvalid, "invalid_password", "password is not valid UTF-8")
	case n < parley.MinPasswordBytes:
		return parley.Errorf(parley.ErrInvalid, "password_too_short",
			"password needs at least %d characters", parley.MinPasswordBytes)
	case len(p) > parley.MaxPasswordBytes:
		return parley.Errorf(parley.ErrInvalid, "password_too_long",
			"password may have at most %d bytes", parley.MaxPasswordBytes)
	}
	return nil
}

// hashPassword returns "argon2id$<t>$<m>$<p>$<salt>$<key>", base64 parts.
func hashPassword(p string) []byte {
	salt := make([]byte, 16)
	rand.Read(salt)
	key := argon2.IDKey([]byte(p), salt, argonTime, argonMemory, argonThreads, argonKeyLen)
	b64 := base64.RawStdEncoding
	return fmt.Appendf(nil, "argon2id$%d$%d$%d$%s$%s", argonTime, argonMemory, argonThreads,
		b64.EncodeToString(salt), b64.EncodeToString(key))
}

func verifyPassword(hash []byte, p string) bool {
	parts := bytes.Split(hash, []byte("$"))
	if len(parts) != 6 || string(parts[0]) != "argon2id" {
		return false
	}
	var t, m uint32
	var threads uint8
	params := string(bytes.Join(parts[1:4], []byte(" ")))
	if _, err := fmt.Sscanf(params, "%d %d %d", &t, &m, &threads); err != nil {
		return false
	}
	b64 := base64.RawStdEncoding
	salt, err1 := b64.DecodeString(string(parts[4]))
	key, err2 := b64.DecodeString(string(parts[5]))
	if err1 != nil || err2 != nil || len(key) == 0 {
		return false
	}
	got := argon2.IDKey([]byte(p), salt, t, m, threads, uint32(len(key)))
	return subtle.ConstantTimeCompare(got, key) == 1
}
