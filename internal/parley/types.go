package parley

import (
	"encoding/json"
	"time"
)

// User is an account. Its ID is also its public name: the path segment in
// /v1/dm/{user}, the Kafka key that addresses a notification to it and the
// "sub" claim of its tokens. IDs match ValidUserID.
type User struct {
	ID        string    `json:"id"`
	CreatedAt time.Time `json:"created_at"`
}

// Conversation kinds, the prefix of a conversation ID.
const (
	KindDM    = "dm"
	KindGroup = "group"
)

// TopicPartition names one partition of one topic.
type TopicPartition struct {
	Topic     string
	Partition int32
}

// Position is where Kafka stored a record.
type Position struct {
	Topic     string `json:"topic"`
	Partition int32  `json:"partition"`
	Offset    int64  `json:"offset"`
}

// TP returns the partition of the position.
func (p Position) TP() TopicPartition { return TopicPartition{p.Topic, p.Partition} }

// Message types: what an entry of a conversation's history is.
const (
	TypeMessage = "message" // a user's message
	TypeMember  = "member"  // a membership change in a group
)

// Member actions carried by a TypeMember entry.
const (
	ActionJoined  = "joined"  // added by a manager or present at creation
	ActionRemoved = "removed" // removed by a manager
	ActionLeft    = "left"    // left on their own
	ActionRole    = "role"    // role changed
)

// Message is one entry of a conversation: a user's message, or in a group a
// membership change. Its Seq orders it within its conversation; the same Seq
// is the cursor clients page history with.
type Message struct {
	// ID is unique within the conversation. A send with a client id gets a
	// deterministic ID (MessageID), which is how retries are recognised.
	ID           string    `json:"id"`
	Type         string    `json:"type"`         // TypeMessage or TypeMember
	Conversation string    `json:"conversation"` // "dm:<a>:<b>" or "group:<id>"
	From         string    `json:"from"`         // the sender, or who made the change
	Body         string    `json:"body,omitempty"`
	ClientID     string    `json:"client_id,omitempty"`
	SentAt       time.Time `json:"sent_at"`

	// Member is set on TypeMember entries only.
	Member *MemberChange `json:"member,omitempty"`

	// Seq orders the conversation: SeqOf(epoch, offset). Zero until Kafka
	// has stored the record. Clients see it as the message's "cursor".
	Seq int64    `json:"cursor,string"`
	Pos Position `json:"-"`
}

// MemberChange describes a TypeMember entry.
type MemberChange struct {
	User   string `json:"user"`
	Action string `json:"action"` // one of the Action constants
	Role   string `json:"role,omitempty"`
}

// Group roles. The owner manages members and roles; an admin manages
// members; a member reads and posts.
const (
	RoleOwner  = "owner"
	RoleAdmin  = "admin"
	RoleMember = "member"
)

// Group topic strategies.
const (
	StrategyShared    = "shared"    // one topic for all groups, keyed by group id
	StrategyDedicated = "dedicated" // a topic of its own, "group.<id>"
	// StrategyMoving marks a group on its way from the shared topic to its
	// own: sends wait until the move is done.
	StrategyMoving = "moving"
)

// Group is a group chat.
type Group struct {
	ID        string    `json:"id"`
	Name      string    `json:"name"`
	Owner     string    `json:"owner"`
	Strategy  string    `json:"strategy"` // StrategyShared or StrategyDedicated
	CreatedAt time.Time `json:"created_at"`
}

// Member is a user's membership of a group.
type Member struct {
	User     string    `json:"user"`
	Role     string    `json:"role"`
	JoinedAt time.Time `json:"joined_at"`
}

// Notification is one notification as Parley stores and delivers it.
type Notification struct {
	// ID is the producer's idempotency key when it gave one, otherwise one
	// derived from the record's position, so a redelivered record keeps it.
	ID string `json:"id"`
	// To lists the recipients; empty means every user (a broadcast).
	To          []string        `json:"to,omitempty"`
	Title       string          `json:"title,omitempty"`
	Body        string          `json:"body"`
	Kind        string          `json:"kind,omitempty"`
	Priority    string          `json:"priority,omitempty"`
	Data        json.RawMessage `json:"data,omitempty"`
	CollapseKey string          `json:"collapse_key,omitempty"`
	// ExpiresAt is zero when the notification never expires.
	ExpiresAt time.Time `json:"expires_at,omitzero"`
	CreatedAt time.Time `json:"created_at"`
	// Read is the reading user's read state; set by Store.Inbox only.
	Read bool `json:"read"`
	// toAll records an explicit "to": "*", which a record's key must not
	// override.
	toAll bool

	// Seq orders the inbox; the store assigns it. It is the inbox cursor.
	Seq int64    `json:"cursor,string"`
	Pos Position `json:"-"`
}

// Broadcast reports whether the notification goes to every user.
func (n *Notification) Broadcast() bool { return len(n.To) == 0 }

// Expired reports whether the notification had expired at now.
func (n *Notification) Expired(now time.Time) bool {
	return !n.ExpiresAt.IsZero() && !now.Before(n.ExpiresAt)
}

// ConversationSummary is one row of a user's conversation list.
type ConversationSummary struct {
	ID   string `json:"id"`   // conversation ID
	Kind string `json:"kind"` // KindDM or KindGroup
	// Peer is the other user of a DM; Name the name of a group.
	Peer   string `json:"peer,omitempty"`
	Name   string `json:"name,omitempty"`
	Unread int    `json:"unread"`
	// Last is the newest entry, nil when the conversation has none yet.
	Last *Message `json:"last,omitempty"`
	// ReadSeq is the user's read cursor: entries up to it are read.
	ReadSeq int64 `json:"-"`
}

// ReadMark records that a user read a conversation up to Seq, or (for
// notifications) a notification by ID.
type ReadMark struct {
	User         string    `json:"user"`
	Conversation string    `json:"conversation,omitempty"`
	Seq          int64     `json:"-"`
	Notification string    `json:"notification,omitempty"`
	At           time.Time `json:"at"`
}
