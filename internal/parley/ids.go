package parley

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base32"
	"strings"
	"unicode/utf8"
)

// MaxUserIDLen bounds a user ID.
const MaxUserIDLen = 64

// ValidUserID reports whether id can name a user: 1 to 64 characters of
// lowercase ASCII letters, digits, '_', '-' and '.', starting with a letter
// or digit. The set leaves out ':' so conversation IDs and Kafka keys built
// from user IDs can be split again, and upper case so that "Bob" and "bob"
// cannot be two people.
func ValidUserID(id string) bool {
	if id == "" || len(id) > MaxUserIDLen {
		return false
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		switch {
		case c >= 'a' && c <= 'z', c >= '0' && c <= '9':
		case (c == '_' || c == '-' || c == '.') && i > 0:
		default:
			return false
		}
	}
	return true
}

// ValidGroupID reports whether id can name a group: the same alphabet as a
// user ID, so "group.<id>" is a legal Kafka topic name.
func ValidGroupID(id string) bool { return ValidUserID(id) }

// DMConversation returns the conversation ID of the DM between a and b:
// "dm:<a>:<b>" with the two IDs sorted, so both users name it alike.
func DMConversation(a, b string) string {
	if b < a {
		a, b = b, a
	}
	return KindDM + ":" + a + ":" + b
}

// GroupConversation returns the conversation ID of a group.
func GroupConversation(groupID string) string { return KindGroup + ":" + groupID }

// ParseConversation splits a conversation ID. For a DM it returns the two
// users; for a group the group ID as the only element.
func ParseConversation(conv string) (kind string, ids []string, ok bool) {
	kind, rest, found := strings.Cut(conv, ":")
	if !found {
		return "", nil, false
	}
	switch kind {
	case KindDM:
		a, b, found := strings.Cut(rest, ":")
		if !found || !ValidUserID(a) || !ValidUserID(b) || a > b {
			return "", nil, false
		}
		return kind, []string{a, b}, true
	case KindGroup:
		if !ValidGroupID(rest) {
			return "", nil, false
		}
		return kind, []string{rest}, true
	}
	return "", nil, false
}

var idEncoding = base32.NewEncoding("0123456789abcdefghjkmnpqrstvwxyz").WithPadding(base32.NoPadding)

// NewID returns a random ID with the given prefix, 20 characters after it.
func NewID(prefix string) string {
	var b [13]byte
	rand.Read(b[:])
	return prefix + idEncoding.EncodeToString(b[:])[:20]
}

// MessageID returns the ID of a message sent with a client ID: the same
// sender, conversation and client ID always give the same message ID, so a
// retried send is recognised wherever it lands.
func MessageID(conversation, from, clientID string) string {
	h := sha256.Sum256([]byte(conversation + "\x00" + from + "\x00" + clientID))
	return "m" + idEncoding.EncodeToString(h[:13])[:20]
}

// Limits on what a user can send.
const (
	MaxBodyBytes     = 16 << 10 // a message or notification body
	MaxClientIDLen   = 128
	MaxGroupNameLen  = 100
	MaxGroupMembers  = 10000 // members named at creation
	MaxPasswordBytes = 128
	MinPasswordBytes = 8
)

// CheckBody validates a message body: non-empty after trimming, valid UTF-8,
// at most MaxBodyBytes.
func CheckBody(body string) error {
	switch {
	case len(body) > MaxBodyBytes:
		return Errorf(ErrTooLarge, "body_too_large", "body is %d bytes; the limit is %d", len(body), MaxBodyBytes)
	case !utf8.ValidString(body):
		return Errorf(ErrInvalid, "invalid_utf8", "body is not valid UTF-8")
	case strings.IndexByte(body, 0) >= 0:
		// PostgreSQL's text cannot hold NUL, and no person types one.
		return Errorf(ErrInvalid, "invalid_body", "body contains a NUL character")
	case strings.TrimSpace(body) == "":
		return Errorf(ErrInvalid, "empty_body", "body is empty")
	}
	return nil
}

// CheckClientID validates an optional client ID.
func CheckClientID(id string) error {
	if len(id) > MaxClientIDLen || !utf8.ValidString(id) {
		return Errorf(ErrInvalid, "invalid_client_id",
			"client_id must be valid UTF-8 of at most %d bytes", MaxClientIDLen)
	}
	return nil
}
