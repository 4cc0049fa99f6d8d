package parley

import (
	"bytes"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// The records Parley writes to Kafka. docs/records.md describes them for
// programs that consume Parley's topics; keep the two in step.
//
// Message topics (direct-messages, group-messages, group.<id>) carry JSON
// values with a "type" field and the header "parley-type" naming it:
//
//	message  a user's message            key: conversation (DM) or group ID
//	member   a group membership change   key: group ID
//	read     a read cursor moved         key: as for message
//	topic    a group's entries continue  key: group ID, on the shared
//	         on its dedicated topic           group topic only
//
// The notifications topic carries what any producer writes (plain text or a
// JSON envelope, see ParseNotification) plus Parley's own read marks, which
// have the header "parley-type: read" and the reading user as key.

// HeaderType names the kind of a record Parley wrote.
const HeaderType = "parley-type"

// Record types in HeaderType and in the "type" field of values.
const (
	RecordMessage = "message"
	RecordMember  = "member"
	RecordRead    = "read"
	RecordTopic   = "topic"
)

// Dead-letter headers: why a record was refused and where it came from.
const (
	HeaderDeadReason    = "parley-dead-reason"    // a stable code
	HeaderDeadDetail    = "parley-dead-detail"    // a sentence
	HeaderDeadTopic     = "parley-dead-topic"     // source topic
	HeaderDeadPartition = "parley-dead-partition" // source partition, decimal
	HeaderDeadOffset    = "parley-dead-offset"    // source offset, decimal
	HeaderDeadAt        = "parley-dead-at"        // RFC 3339 time of refusal
)

// Bounds on records Parley accepts from Kafka.
const (
	MaxRecordBytes       = 64 << 10 // a notification record's value
	MaxNotificationTitle = 256
	MaxRecipients        = 1000 // in one notification's "to"
	MaxKindLen           = 64
	MaxCollapseKeyLen    = 128
	MaxNotificationIDLen = 128
)

// Notification priorities.
var priorities = map[string]bool{"low": true, "normal": true, "high": true, "urgent": true}

// wireEntry is the JSON value of message, member and read records.
type wireEntry struct {
	Type         string        `json:"type"`
	ID           string        `json:"id,omitempty"`
	Conversation string        `json:"conversation"`
	From         string        `json:"from,omitempty"`
	Body         string        `json:"body,omitempty"`
	ClientID     string        `json:"client_id,omitempty"`
	SentAt       time.Time     `json:"sent_at,omitzero"`
	Member       *MemberChange `json:"member,omitempty"`
	// Topic records.
	Topic string `json:"topic,omitempty"`
	// Read records.
	User   string    `json:"user,omitempty"`
	Cursor string    `json:"cursor,omitempty"`
	At     time.Time `json:"at,omitzero"`
}

// Decoded is what a record means to Parley. Exactly one field is set.
type Decoded struct {
	Message      *Message      // TypeMessage or TypeMember entries
	Read         *ReadMark     // a conversation or notification read mark
	Notification *Notification // a notification
	Topic        *TopicChange  // a group moved to its dedicated topic
}

// TopicChange says that a group's entries continue on another topic. It is
// written to the shared group topic, keyed by the group, after the last
// entry the group has there, so a reader that meets it has read everything
// before it and can start reading the new topic.
type TopicChange struct {
	Group string
	Topic string
}

// DeadLetterError says why a record cannot be understood. Records that fail
// with it go to the dead-letter topic.
type DeadLetterError struct {
	Reason string // stable code, e.g. "invalid_json"
	Detail string
}

func (e *DeadLetterError) Error() string { return e.Reason + ": " + e.Detail }

func deadf(reason, format string, args ...any) error {
	return &DeadLetterError{Reason: reason, Detail: fmt.Sprintf(format, args...)}
}

// Codec turns domain values into records and records back, for the topic
// names it was given.
type Codec struct {
	Topics Topics
}

// EntryTopic returns the topic and key of a conversation's records given
// the group's strategy ("" for a DM).
func (c Codec) EntryTopic(conversation, strategy string) (topic, key string) {
	kind, ids, _ := ParseConversation(conversation)
	if kind == KindDM {
		return c.Topics.DirectMessages, conversation
	}
	if strategy == StrategyDedicated {
		return c.Topics.Dedicated(ids[0]), ids[0]
	}
	return c.Topics.GroupMessages, ids[0]
}

// EntryRecord encodes a message or member entry.
func (c Codec) EntryRecord(m *Message, strategy string) *Record {
	topic, key := c.EntryTopic(m.Conversation, strategy)
	v, _ := json.Marshal(wireEntry{
		Type: m.Type, ID: m.ID, Conversation: m.Conversation, From: m.From,
		Body: m.Body, ClientID: m.ClientID, SentAt: m.SentAt, Member: m.Member,
	})
	return &Record{
		Topic: topic, Key: []byte(key), Value: v,
		Headers: []Header{{HeaderType, []byte(m.Type)}},
	}
}

// TopicRecord encodes the move of a group to its dedicated topic, for the
// shared group topic.
func (c Codec) TopicRecord(groupID string) *Record {
	v, _ := json.Marshal(wireEntry{Type: RecordTopic, Conversation: GroupConversation(groupID),
		Topic: c.Topics.Dedicated(groupID)})
	return &Record{
		Topic: c.Topics.GroupMessages, Key: []byte(groupID), Value: v,
		Headers: []Header{{HeaderType, []byte(RecordTopic)}},
	}
}

// ReadRecord encodes a read mark: on the conversation's topic for a
// conversation, on the notifications topic for a notification.
func (c Codec) ReadRecord(r *ReadMark, strategy string) *Record {
	w := wireEntry{Type: RecordRead, User: r.User, At: r.At}
	var topic, key string
	if r.Notification != "" {
		topic, key = c.Topics.Notifications, r.User
		w.ID = r.Notification
	} else {
		topic, key = c.EntryTopic(r.Conversation, strategy)
		w.Conversation = r.Conversation
		w.Cursor = FormatSeq(r.Seq)
	}
	v, _ := json.Marshal(w)
	return &Record{
		Topic: topic, Key: []byte(key), Value: v,
		Headers: []Header{{HeaderType, []byte(RecordRead)}},
	}
}

// IsDedicated reports whether topic is a group's dedicated topic, and
// whose.
func (c Codec) IsDedicated(topic string) (groupID string, ok bool) {
	id, ok := strings.CutPrefix(topic, c.Topics.GroupPrefix)
	if !ok || !ValidGroupID(id) {
		return "", false
	}
	return id, true
}

// Decode interprets a record of one of Parley's topics. It returns a
// *DeadLetterError for a record that cannot be understood, and a zero
// Decoded (no error) for a record Parley ignores.
func (c Codec) Decode(r *Record) (Decoded, error) {
	switch {
	case r.Topic == c.Topics.Notifications:
		if string(r.Header(HeaderType)) == RecordRead {
			return c.decodeNotificationRead(r)
		}
		n, err := ParseNotification(r)
		if err != nil {
			return Decoded{}, err
		}
		return Decoded{Notification: n}, nil
	case r.Topic == c.Topics.DirectMessages:
		return c.decodeEntry(r, EpochShared, KindDM)
	case r.Topic == c.Topics.GroupMessages:
		return c.decodeEntry(r, EpochShared, KindGroup)
	default:
		if _, ok := c.IsDedicated(r.Topic); ok {
			return c.decodeEntry(r, EpochDedicated, KindGroup)
		}
	}
	return Decoded{}, nil
}

func (c Codec) decodeEntry(r *Record, epoch int, kind string) (Decoded, error) {
	var w wireEntry
	if err := decodeStrict(r.Value, &w); err != nil {
		return Decoded{}, err
	}
	k, ids, ok := ParseConversation(w.Conversation)
	if !ok || k != kind {
		return Decoded{}, deadf("invalid_conversation", "conversation %q does not belong on topic %s",
			w.Conversation, r.Topic)
	}
	if k == KindGroup {
		if id, ded := c.IsDedicated(r.Topic); ded && id != ids[0] {
			return Decoded{}, deadf("invalid_conversation", "conversation %q does not belong on topic %s",
				w.Conversation, r.Topic)
		}
	}
	seq := SeqOf(epoch, r.Offset)
	switch w.Type {
	case RecordMessage, RecordMember:
		return c.decodeMessage(r, &w, seq, ids)
	case RecordTopic:
		if epoch != EpochShared || w.Topic != c.Topics.Dedicated(ids[0]) {
			return Decoded{}, deadf("invalid_topic", "topic record for %s names %q", w.Conversation, w.Topic)
		}
		return Decoded{Topic: &TopicChange{Group: ids[0], Topic: w.Topic}}, nil
	case RecordRead:
		s, err := ParseSeq(w.Cursor)
		if err != nil || !ValidUserID(w.User) {
			return Decoded{}, deadf("invalid_read", "read record needs a valid user and cursor")
		}
		return Decoded{Read: &ReadMark{User: w.User, Conversation: w.Conversation, Seq: s, At: w.At}}, nil
	}
	return Decoded{}, deadf("unknown_type", "record type %q is unknown", w.Type)
}

func (c Codec) decodeMessage(r *Record, w *wireEntry, seq int64, ids []string) (Decoded, error) {
	if w.ID == "" || !ValidUserID(w.From) {
		return Decoded{}, deadf("invalid_message", "message needs an id and a valid from")
	}
	if len(ids) == 2 && w.From != ids[0] && w.From != ids[1] {
		return Decoded{}, deadf("invalid_message", "sender %q is not part of %s", w.From, w.Conversation)
	}
	m := &Message{
		ID: w.ID, Type: w.Type, Conversation: w.Conversation, From: w.From,
		Body: w.Body, ClientID: w.ClientID, SentAt: w.SentAt, Seq: seq, Pos: r.Pos(),
	}
	if m.SentAt.IsZero() {
		m.SentAt = r.Time
	}
	if w.Type == RecordMember {
		if w.Member == nil || !ValidUserID(w.Member.User) {
			return Decoded{}, deadf("invalid_member", "member record needs a valid member.user")
		}
		m.Member = w.Member
		m.Body = ""
	} else if err := CheckBody(w.Body); err != nil {
		return Decoded{}, deadf("invalid_body", "%v", err)
	}
	return Decoded{Message: m}, nil
}

func (c Codec) decodeNotificationRead(r *Record) (Decoded, error) {
	var w wireEntry
	if err := decodeStrict(r.Value, &w); err != nil {
		return Decoded{}, err
	}
	if !ValidUserID(w.User) || w.ID == "" {
		return Decoded{}, deadf("invalid_read", "notification read record needs a user and an id")
	}
	return Decoded{Read: &ReadMark{User: w.User, Notification: w.ID, At: w.At}}, nil
}

func decodeStrict(v []byte, w *wireEntry) error {
	if len(v) > MaxRecordBytes {
		return deadf("too_large", "value is %d bytes; the limit is %d", len(v), MaxRecordBytes)
	}
	if !utf8.Valid(v) {
		return deadf("invalid_utf8", "value is not valid UTF-8")
	}

	// Most values are in the plain form Parley writes; encoding/json decodes
	// the rest and words the errors.
	if decodeEntryFast(v, w) {
		return nil
	}
	return decodeJSON(v, w)
}

// decodeJSON decodes v with encoding/json. It works on a copy of w so that
// w, which Unmarshal would make escape, can stay on the caller's stack
// when the fast path does the work.
func decodeJSON(v []byte, w *wireEntry) error {
	j := new(wireEntry)
	*j = *w
	err := json.Unmarshal(v, j)
	*w = *j
	if err != nil {
		return deadf("invalid_json", "value is not valid JSON: %v", err)
	}
	return nil
}

// Envelope is the JSON form of a notification, as producers write it to the
// notifications topic and servers post it to the API. ParseNotification
// documents its fields.
type Envelope struct {
	To          json.RawMessage `json:"to"`
	Title       string          `json:"title"`
	Body        string          `json:"body"`
	Kind        string          `json:"kind"`
	Priority    string          `json:"priority"`
	Data        json.RawMessage `json:"data"`
	CollapseKey string          `json:"collapse_key"`
	TTL         json.RawMessage `json:"ttl"`
	ExpiresAt   *time.Time      `json:"expires_at"`
	ID          string          `json:"id"`
}

// ParseNotification interprets a record of the notifications topic, as
// written by any producer. The value is either plain text, the body, or a
// JSON object (its first non-space byte is '{'): the envelope with "to" (a
// user ID, a list of them, or "*" for everyone), "title", "body", and
// optionally "kind", "priority" (low, normal, high, urgent), "data" (any
// JSON), "collapse_key", "ttl" (seconds, or a Go duration such as "10m"),
// "expires_at" (RFC 3339) and "id" (an idempotency key). Without "to", the
// record's key names the recipient; without either, it goes to every user.
// The ID of a notification without "id" is derived from the record's
// position, so every node and every redelivery agree on it.
func ParseNotification(r *Record) (*Notification, error) {
	v := r.Value
	if len(v) > MaxRecordBytes {
		return nil, deadf("too_large", "value is %d bytes; the limit is %d", len(v), MaxRecordBytes)
	}
	if !utf8.Valid(v) || !utf8.Valid(r.Key) {
		return nil, deadf("invalid_utf8", "key or value is not valid UTF-8")
	}
	n := &Notification{CreatedAt: r.Time, Pos: r.Pos(), Priority: "normal"}
	trimmed := bytes.TrimSpace(v)
	if len(trimmed) > 0 && trimmed[0] == '{' {
		var e Envelope
		if err := json.Unmarshal(trimmed, &e); err != nil {
			return nil, deadf("invalid_json", "value starts with '{' but is not a valid envelope: %v", err)
		}
		if err := e.Apply(n, r.Time); err != nil {
			return nil, err
		}
	} else {
		n.Body = string(trimmed)
	}
	if n.To == nil && len(r.Key) > 0 && !n.toAll {
		n.To = []string{string(r.Key)}
	}
	return n, n.check(r)
}

// Apply sets n's fields from the envelope; a ttl counts from now. "to" of
// "*" leaves n.To empty: every user. It returns a *DeadLetterError for a
// field that is not valid.
func (e *Envelope) Apply(n *Notification, now time.Time) error {
	if len(e.To) > 0 && string(e.To) != "null" {
		to, err := parseRecipients(e.To)
		if err != nil {
			return err
		}
		n.To = to
		if len(to) == 1 && to[0] == "*" {
			n.To, n.toAll = nil, true
		}
	}
	n.Title, n.Body, n.Kind, n.CollapseKey, n.ID = e.Title, e.Body, e.Kind, e.CollapseKey, e.ID
	if e.Priority != "" {
		n.Priority = e.Priority
	}
	if len(e.Data) > 0 && string(e.Data) != "null" {
		n.Data = e.Data
	}
	if e.ExpiresAt != nil {
		n.ExpiresAt = *e.ExpiresAt
	}
	if len(e.TTL) > 0 && string(e.TTL) != "null" {
		ttl, err := parseTTL(e.TTL)
		if err != nil {
			return err
		}
		if exp := now.Add(ttl); n.ExpiresAt.IsZero() || exp.Before(n.ExpiresAt) {
			n.ExpiresAt = exp
		}
	}
	return nil
}

func parseRecipients(raw json.RawMessage) ([]string, error) {
	var one string
	if err := json.Unmarshal(raw, &one); err == nil {
		return []string{one}, nil
	}
	var many []string
	if err := json.Unmarshal(raw, &many); err != nil {
		return nil, deadf("invalid_recipient", `"to" must be a user ID or a list of them`)
	}
	if len(many) == 0 {
		return nil, deadf("invalid_recipient", `"to" is an empty list`)
	}
	return many, nil
}

func parseTTL(raw json.RawMessage) (time.Duration, error) {
	var secs float64
	if err := json.Unmarshal(raw, &secs); err == nil {
		if secs <= 0 || secs > 10*365*24*3600 {
			return 0, deadf("invalid_ttl", "ttl must be a positive number of seconds")
		}
		return time.Duration(secs * float64(time.Second)), nil
	}
	var s string
	if err := json.Unmarshal(raw, &s); err == nil {
		if d, err := time.ParseDuration(s); err == nil && d > 0 {
			return d, nil
		}
	}
	return 0, deadf("invalid_ttl", `ttl must be seconds or a duration such as "10m"`)
}

// check validates a parsed notification and gives it an ID.
func (n *Notification) check(r *Record) error {
	switch {
	case n.Body == "" && n.Title == "":
		return deadf("empty_notification", "notification has neither title nor body")
	case len(n.Body) > MaxBodyBytes:
		return deadf("too_large", "body is %d bytes; the limit is %d", len(n.Body), MaxBodyBytes)
	case len(n.Title) > MaxNotificationTitle:
		return deadf("too_large", "title is longer than %d bytes", MaxNotificationTitle)
	case len(n.To) > MaxRecipients:
		return deadf("too_many_recipients", "at most %d recipients", MaxRecipients)
	case !priorities[n.Priority]:
		return deadf("invalid_priority", "priority %q is not one of low, normal, high, urgent", n.Priority)
	case len(n.Kind) > MaxKindLen || len(n.CollapseKey) > MaxCollapseKeyLen:
		return deadf("invalid_envelope", "kind or collapse_key too long")
	case len(n.ID) > MaxNotificationIDLen:
		return deadf("invalid_envelope", "id longer than %d bytes", MaxNotificationIDLen)
	case strings.ContainsRune(n.Title+n.Body+n.Kind+n.CollapseKey+n.ID, 0):
		return deadf("invalid_body", "notification contains a NUL character")
	}
	for _, u := range n.To {
		if !ValidUserID(u) {
			return deadf("invalid_recipient", "recipient %q is not a valid user ID", u)
		}
	}
	if n.ID == "" {
		h := sha256.Sum256([]byte(r.Topic + "/" + strconv.Itoa(int(r.Partition)) + "/" +
			strconv.FormatInt(r.Offset, 10)))
		n.ID = "n" + idEncoding.EncodeToString(h[:13])[:20]
	}
	return nil
}

// NotificationRecord encodes a notification as a JSON envelope for the
// notifications topic, keyed by its recipient when it has exactly one.
func (c Codec) NotificationRecord(n *Notification) *Record {
	e := map[string]any{"body": n.Body, "id": n.ID}
	if len(n.To) > 0 {
		e["to"] = n.To
	}
	for k, v := range map[string]string{"title": n.Title, "kind": n.Kind, "priority": n.Priority,
		"collapse_key": n.CollapseKey} {
		if v != "" {
			e[k] = v
		}
	}
	if len(n.Data) > 0 {
		e["data"] = n.Data
	}
	if !n.ExpiresAt.IsZero() {
		e["expires_at"] = n.ExpiresAt
	}
	v, _ := json.Marshal(e)
	r := &Record{Topic: c.Topics.Notifications, Value: v}
	if len(n.To) == 1 {
		r.Key = []byte(n.To[0])
	}
	return r
}

// DeadLetter returns the dead-letter record for a record that failed: the
// original key, value and headers, plus headers that say why and where from.
func (c Codec) DeadLetter(r *Record, err error, now time.Time) *Record {
	reason, detail := "invalid_record", err.Error()
	if d, ok := err.(*DeadLetterError); ok {
		reason, detail = d.Reason, d.Detail
	}
	h := append([]Header(nil), r.Headers...)
	h = append(h,
		Header{HeaderDeadReason, []byte(reason)},
		Header{HeaderDeadDetail, []byte(detail)},
		Header{HeaderDeadTopic, []byte(r.Topic)},
		Header{HeaderDeadPartition, []byte(strconv.Itoa(int(r.Partition)))},
		Header{HeaderDeadOffset, []byte(strconv.FormatInt(r.Offset, 10))},
		Header{HeaderDeadAt, []byte(now.UTC().Format(time.RFC3339Nano))},
	)
	return &Record{Topic: c.Topics.DeadLetters, Key: r.Key, Value: r.Value, Headers: h}
}
