package parley

import (
	"encoding/binary"
	"time"
)

// Every node decodes each record of the message topics twice, in the live
// reader and in the archiver, and encoding/json's reflection made that a
// noticeable share of a busy server's CPU. decodeEntryFast reads the plain
// form that Parley itself writes without it, and hands anything else back to
// encoding/json, so the result never differs from what encoding/json gives.

// Bits of the fields decodeEntryFast has seen, to refuse duplicate keys.
const (
	seenType = 1 << iota
	seenID
	seenConversation
	seenFrom
	seenBody
	seenClientID
	seenSentAt
	seenMember
	seenTopic
	seenUser
	seenCursor
	seenAt
)

// decodeEntryFast fills w from v and reports true when v is a JSON object
// in a plain form: keys spelled exactly as wireEntry's tags, each at most
// once; string values without escapes (so no backslash anywhere in them);
// the member value an object of the same kind. Anything else, including
// what encoding/json would refuse, makes it report false and leave w as it
// was, and the caller falls back to encoding/json. That keeps what
// encoding/json alone knows out of here: keys matched regardless of case,
// the last of duplicate keys winning, nulls, unknown keys, escapes and the
// wording of its errors.
//
// v must be valid UTF-8: then the bytes between two quotes are exactly the
// string encoding/json would decode.
func decodeEntryFast(v []byte, w *wireEntry) bool {
	var (
		e    wireEntry
		seen uint
	)
	s := jsonScanner{b: v}
	ok := s.object(func(key []byte) bool {
		var bit uint
		var dst *string
		switch string(key) {
		case "type":
			return once(&seen, seenType) && s.recordType(&e.Type)
		case "sent_at":
			return once(&seen, seenSentAt) && s.timestamp(&e.SentAt)
		case "at":
			return once(&seen, seenAt) && s.timestamp(&e.At)
		case "member":
			return once(&seen, seenMember) && s.member(&e.Member)
		case "id":
			bit, dst = seenID, &e.ID
		case "conversation":
			bit, dst = seenConversation, &e.Conversation
		case "from":
			bit, dst = seenFrom, &e.From
		case "body":
			bit, dst = seenBody, &e.Body
		case "client_id":
			bit, dst = seenClientID, &e.ClientID
		case "topic":
			bit, dst = seenTopic, &e.Topic
		case "user":
			bit, dst = seenUser, &e.User
		case "cursor":
			bit, dst = seenCursor, &e.Cursor
		default:
			return false
		}
		return once(&seen, bit) && s.str(dst)
	})
	if !ok || !s.end() {
		return false
	}
	*w = e
	return true
}

// jsonScanner reads the subset of JSON that decodeEntryFast accepts. Each
// method skips the whitespace JSON allows before a token and reports false
// when the next token is not what it wants.
type jsonScanner struct {
	b []byte
	i int
}

// object reads an object, calling field with each key when the scanner
// stands before the key's value; field must read the value.
func (s *jsonScanner) object(field func(key []byte) bool) bool {
	if !s.consume('{') {
		return false
	}
	if s.consume('}') {
		return true
	}
	for {
		q, ok := s.quoted()
		if !ok || !s.consume(':') || !field(q[1:len(q)-1]) {
			return false
		}
		if s.consume('}') {
			return true
		}
		if !s.consume(',') {
			return false
		}
	}
}

// member reads a MemberChange object into a new value, as encoding/json
// does for a nil pointer.
func (s *jsonScanner) member(dst **MemberChange) bool {
	var (
		m    MemberChange
		seen uint
	)
	ok := s.object(func(key []byte) bool {
		var bit uint
		var f *string
		switch string(key) {
		case "user":
			bit, f = 1, &m.User
		case "action":
			bit, f = 2, &m.Action
		case "role":
			bit, f = 4, &m.Role
		default:
			return false
		}
		return once(&seen, bit) && s.str(f)
	})
	if ok {
		*dst = &m
	}
	return ok
}

// once marks bit in seen, and reports false when it was already there.
func once(seen *uint, bit uint) bool {
	if *seen&bit != 0 {
		return false
	}
	*seen |= bit
	return true
}

func (s *jsonScanner) str(dst *string) bool {
	q, ok := s.quoted()
	if ok {
		*dst = string(q[1 : len(q)-1])
	}
	return ok
}

// recordType reads a record type, sharing the constants' memory rather
// than allocating a copy of a word every record carries.
func (s *jsonScanner) recordType(dst *string) bool {
	q, ok := s.quoted()
	if !ok {
		return false
	}
	switch t := q[1 : len(q)-1]; string(t) {
	case RecordMessage:
		*dst = RecordMessage
	case RecordMember:
		*dst = RecordMember
	case RecordRead:
		*dst = RecordRead
	case RecordTopic:
		*dst = RecordTopic
	default:
		*dst = string(t)
	}
	return true
}

// timestamp reads a time the way encoding/json does: by handing the quoted
// string to time.Time's UnmarshalJSON. Its errors are left for the
// fallback to report.
func (s *jsonScanner) timestamp(dst *time.Time) bool {
	q, ok := s.quoted()
	return ok && dst.UnmarshalJSON(q) == nil
}

// quoted returns the next token, quotes included, when it is a string
// without escapes or control characters, which JSON does not allow raw.
func (s *jsonScanner) quoted() ([]byte, bool) {
	s.space()
	if s.i >= len(s.b) || s.b[s.i] != '"' {
		return nil, false
	}
	start := s.i

	// Skip whole words of plain bytes, then find the stop byte in the word
	// that has one: byte by byte, the scan was most of the fast path's time.
	j := start + 1
	for ; j+8 <= len(s.b); j += 8 {
		if hasStringStop(binary.LittleEndian.Uint64(s.b[j:])) {
			break
		}
	}
	for ; j < len(s.b); j++ {
		c := s.b[j]
		if !stringStop[c] {
			continue
		}
		if c != '"' {
			return nil, false
		}
		s.i = j + 1
		return s.b[start:s.i], true
	}
	return nil, false
}

// hasStringStop reports whether any of the eight bytes in x is one that
// stringStop marks. (x - n*ones) & ^x & highs is non-zero exactly when some
// byte of x is below n (n at most 0x80): a byte at or above n does not
// borrow, and a byte with its high bit set is masked by ^x. Equality with
// c is a zero byte in x ^ c*ones, that is a byte below 1.
func hasStringStop(x uint64) bool {
	const ones, highs = 0x0101010101010101, 0x8080808080808080
	quote := x ^ '"'*ones
	backslash := x ^ '\\'*ones
	control := (x - 0x20*ones) & ^x
	quote = (quote - ones) & ^quote
	backslash = (backslash - ones) & ^backslash
	return (control|quote|backslash)&highs != 0
}

// stringStop marks the bytes that end quoted's run through a string: the
// closing quote, a backslash and the control characters.
var stringStop = func() (t [256]bool) {
	for c := range 0x20 {
		t[c] = true
	}
	t['"'], t['\\'] = true, true
	return t
}()

// consume reads c when it comes next.
func (s *jsonScanner) consume(c byte) bool {
	s.space()
	if s.i < len(s.b) && s.b[s.i] == c {
		s.i++
		return true
	}
	return false
}

// end reports whether nothing but whitespace is left.
func (s *jsonScanner) end() bool {
	s.space()
	return s.i == len(s.b)
}

func (s *jsonScanner) space() {
	for s.i < len(s.b) {
		switch s.b[s.i] {
		case ' ', '\t', '\n', '\r':
			s.i++
		default:
			return
		}
	}
}
