package parley

import (
	"errors"
	"fmt"
)

// Kinds of error a caller can branch on with errors.Is. Every error the
// Service returns for a user's mistake wraps one of them inside an *Error
// that carries a stable code and a message meant for the user.
var (
	ErrInvalid         = errors.New("invalid input")
	ErrTooLarge        = errors.New("too large")
	ErrUnauthenticated = errors.New("unauthenticated")
	ErrForbidden       = errors.New("forbidden")
	ErrNotFound        = errors.New("not found")
	ErrConflict        = errors.New("conflict")
	// ErrUnavailable means a dependency (the broker, the store) cannot be
	// reached now; the request may succeed when retried.
	ErrUnavailable = errors.New("unavailable")
	// ErrSlowConsumer closes a subscription whose reader fell too far behind.
	ErrSlowConsumer = errors.New("slow consumer")
)

// Error is an error meant for the user: Kind is one of the sentinels above,
// Code a stable machine-readable name ("user_not_found"), Message a sentence.
type Error struct {
	Kind    error
	Code    string
	Message string
}

func (e *Error) Error() string { return e.Message }
func (e *Error) Unwrap() error { return e.Kind }

// Errorf returns an *Error of the given kind and code.
func Errorf(kind error, code, format string, args ...any) error {
	return &Error{Kind: kind, Code: code, Message: fmt.Sprintf(format, args...)}
}
