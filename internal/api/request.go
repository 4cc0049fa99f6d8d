package api

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/parley-chat/parley/internal/parley"
)

// maxRequestBytes bounds a request body: a message body is at most 16 KiB,
// which JSON escaping can grow up to six times in the worst case.
const maxRequestBytes = 64 << 10

// maxGroupRequestBytes bounds the body of a group's creation, which may
// name parley.MaxGroupMembers members of up to 64 bytes each.
const maxGroupRequestBytes = 1 << 20

// readJSON reads a request body of at most maxRequestBytes into dst: valid
// UTF-8, one JSON value, no unknown fields. The content type is not
// checked, so curl's default form type works too.
func readJSON(w http.ResponseWriter, r *http.Request, dst any) error {
	return readJSONLimit(w, r, dst, maxRequestBytes)
}

// readJSONLimit is readJSON with another bound on the body.
func readJSONLimit(w http.ResponseWriter, r *http.Request, dst any, limit int64) error {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, limit))
	var tooLarge *http.MaxBytesError
	if errors.As(err, &tooLarge) {
		if limit != maxRequestBytes {
			return parley.Errorf(parley.ErrTooLarge, "request_too_large",
				"the request body exceeds %d bytes", limit)
		}
		return errRequestTooLarge
	} else if err != nil {
		return parley.Errorf(parley.ErrInvalid, "invalid_json", "reading the request body failed")
	}
	return decodeJSON(body, dst)
}

// decodeJSON decodes one JSON value strictly. encoding/json replaces invalid
// UTF-8 with U+FFFD without a word, so the raw bytes are checked first.
func decodeJSON(data []byte, dst any) error {
	if !utf8.Valid(data) {
		return errInvalidUTF8
	}
	if len(bytes.TrimSpace(data)) == 0 {
		return errEmptyBody
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(dst); err != nil {
		return jsonError(err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return parley.Errorf(parley.ErrInvalid, "invalid_json",
			"unexpected data after the JSON value")
	}
	return nil
}

// jsonError turns a decoding error into a message for the user.
func jsonError(err error) error {
	var syntax *json.SyntaxError
	var typ *json.UnmarshalTypeError
	switch {
	case errors.As(err, &syntax):
		return parley.Errorf(parley.ErrInvalid, "invalid_json", "invalid JSON at byte %d: %v",
			syntax.Offset, syntax)
	case errors.As(err, &typ) && typ.Field != "":
		return parley.Errorf(parley.ErrInvalid, "invalid_json", "field %q must be a JSON %s",
			typ.Field, typ.Type.Kind())
	case errors.As(err, &typ):
		return parley.Errorf(parley.ErrInvalid, "invalid_json", "the body must be a JSON object")
	case errors.Is(err, io.ErrUnexpectedEOF):
		return parley.Errorf(parley.ErrInvalid, "invalid_json", "the JSON value is cut short")
	}
	if field, ok := strings.CutPrefix(err.Error(), "json: unknown field "); ok {
		return parley.Errorf(parley.ErrInvalid, "invalid_json", "unknown field %s", field)
	}
	return parley.Errorf(parley.ErrInvalid, "invalid_json", "invalid JSON: %v", err)
}

// writeJSON writes v as the JSON response body with the status.
func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	enc.Encode(v)
}

// pageQuery reads limit, before and after from the query string. Cursors
// are Seq values from parley.FormatSeq.
func pageQuery(r *http.Request) (parley.Page, error) {
	q := r.URL.Query()
	var p parley.Page
	var err error
	if p.Limit, err = limitQuery(q.Get("limit")); err != nil {
		return p, err
	}
	if p.Before, err = parley.ParseSeq(q.Get("before")); err != nil {
		return p, err
	}
	if p.After, err = parley.ParseSeq(q.Get("after")); err != nil {
		return p, err
	}
	return p, nil
}

// limitQuery parses a limit; empty is zero, the service's default.
func limitQuery(s string) (int, error) {
	if s == "" {
		return 0, nil
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 1 || n > parley.MaxPageLimit {
		return 0, parley.Errorf(parley.ErrInvalid, "invalid_limit",
			"limit must be a number from 1 to %d", parley.MaxPageLimit)
	}
	return n, nil
}

// parseCursor parses a message cursor a client sent in a body.
func parseCursor(s string) (int64, error) {
	if s == "" {
		return 0, parley.Errorf(parley.ErrInvalid, "invalid_cursor", "cursor is required")
	}
	return parley.ParseSeq(s)
}

// contextWithTimeout returns the request's context bounded by d.
func contextWithTimeout(r *http.Request, d time.Duration) (context.Context, context.CancelFunc) {
	return context.WithTimeout(r.Context(), d)
}

// requireField returns the error for a missing required field.
func requireField(name string) error {
	return parley.Errorf(parley.ErrInvalid, "missing_field", "field %q is required", name)
}
