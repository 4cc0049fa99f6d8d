package parley

import (
	"context"
	"time"
)

// Store keeps what Parley knows beyond Kafka's retention: accounts, groups
// and their members, the archived history of every conversation, read
// cursors and notification inboxes. Kafka is the source of truth for
// entries; the archiver writes them here, in batches, after Kafka stored
// them. Accounts and membership are written here first by the node that
// handles the request.
//
// Implementations (packages sqlite and postgres) must be safe for
// concurrent use and pass the conformance suite in package storetest. A
// method returns an error wrapping ErrNotFound for a missing user, group,
// member or notification, and ErrConflict for a duplicate where noted.
// Pages follow the rules of Page.
type Store interface {
	// CreateUser adds an account. passwordHash is nil for a user that exists
	// because a token minted by an app backend named it. It returns
	// ErrConflict when the ID is taken.
	CreateUser(ctx context.Context, u User, passwordHash []byte) error
	// EnsureUser returns the user, creating it without a password when it
	// does not exist yet. Safe to call concurrently for the same ID.
	EnsureUser(ctx context.Context, id string, now time.Time) (User, error)
	// User returns a user by ID.
	User(ctx context.Context, id string) (User, error)
	// PasswordHash returns the stored hash; nil when the user has none.
	PasswordHash(ctx context.Context, id string) ([]byte, error)
	// SearchUsers returns up to limit users whose ID starts with prefix,
	// sorted by ID.
	SearchUsers(ctx context.Context, prefix string, limit int) ([]User, error)

	// CreateGroup adds a group with its first members (the owner among
	// them). ErrConflict when the ID is taken.
	CreateGroup(ctx context.Context, g Group, members []Member) error
	// Group returns a group by ID.
	Group(ctx context.Context, id string) (Group, error)
	// SetGroupStrategy changes the topic strategy of a group.
	SetGroupStrategy(ctx context.Context, id, strategy string) error
	// Members lists a group's members sorted by user ID.
	Members(ctx context.Context, groupID string) ([]Member, error)
	// Member returns one membership; ErrNotFound when the user is not a
	// member (or the group does not exist).
	Member(ctx context.Context, groupID, user string) (Member, error)
	// PutMember adds a member or changes the role of an existing one.
	PutMember(ctx context.Context, groupID string, m Member) error
	// RemoveMember removes a member; ErrNotFound when not a member.
	RemoveMember(ctx context.Context, groupID, user string) error
	// GroupsOf lists the groups a user is a member of, sorted by ID.
	GroupsOf(ctx context.Context, user string) ([]Group, error)

	// Archive writes one batch of records the archiver consumed, atomically:
	// all of it or nothing. It is idempotent: an entry whose (conversation,
	// ID) is already stored is skipped (the first one stored wins), as is a
	// notification whose ID is stored; read marks only ever move a cursor
	// forward. It also records b.Offsets, so ArchivedOffsets tells how far
	// the store has caught up.
	Archive(ctx context.Context, b *Batch) error
	// ArchivedOffsets returns, per partition, the offset after the last
	// record Archive has seen (the b.Offsets of all batches, highest wins).
	ArchivedOffsets(ctx context.Context) (map[TopicPartition]int64, error)
	// ResetArchivedOffset sets a partition's archived offset, also
	// backwards: used when the broker lost a partition's offsets.
	ResetArchivedOffset(ctx context.Context, tp TopicPartition, offset int64) error

	// History returns a page of a conversation's entries (messages and
	// member changes), oldest first.
	History(ctx context.Context, conversation string, p Page) ([]Message, error)
	// MessageByID returns an entry of a conversation by ID.
	MessageByID(ctx context.Context, conversation, id string) (Message, error)
	// Conversations lists the user's conversations: every DM with at least
	// one archived message and every group the user is a member of, with
	// the newest entry and the count of TypeMessage entries from others
	// after the user's read cursor. Sorted newest activity first (a group
	// without messages counts by its creation time).
	Conversations(ctx context.Context, user string) ([]ConversationSummary, error)
	// MarkRead moves the user's read cursor in a conversation forward to
	// seq; a lower seq leaves it as it is.
	MarkRead(ctx context.Context, user, conversation string, seq int64) error

	// Inbox returns a page of the notifications the user can see: addressed
	// to them or broadcast, not expired at now, not replaced by a newer one
	// with the same collapse key that the user had not read. Newest first;
	// Page.Before and Page.After compare with Notification.Seq, which the
	// store assigns in archive order.
	Inbox(ctx context.Context, user string, p Page, now time.Time) ([]Notification, error)
	// UnreadNotifications counts what Inbox would show as unread.
	UnreadNotifications(ctx context.Context, user string, now time.Time) (int, error)
	// MarkNotificationRead marks one notification read for the user;
	// ErrNotFound when the user cannot see it. Marking twice is no error.
	MarkNotificationRead(ctx context.Context, user, id string, at time.Time) error

	// UserEntries returns what a user can see among the archived records of
	// one partition with from <= offset < to, ordered by offset: entries of
	// the user's DMs, of the groups the user is a member of now, and
	// notifications addressed to the user or broadcast (expired ones
	// included: the caller filters). Used to resume a stream.
	UserEntries(ctx context.Context, user string, tp TopicPartition, from, to int64) ([]Entry, error)

	// SeqGeneration returns the Seq generation (see SeqOf), 0 for a store
	// that never changed it.
	SeqGeneration(ctx context.Context) (int, error)
	// SetSeqGeneration raises the Seq generation; a lower value changes
	// nothing. `parley migrate` raises it when it copies history to a store
	// used with another Kafka cluster.
	SetSeqGeneration(ctx context.Context, g int) error

	// Ping reports whether the store is reachable.
	Ping(ctx context.Context) error
	// Close releases the store's resources.
	Close() error
}

// Batch is what one archiver poll writes to the store.
type Batch struct {
	Messages      []Message      // entries with Pos and Seq set
	Notifications []Notification // with Pos set; To empty for a broadcast
	Reads         []ReadMark     // conversation and notification read marks
	// Offsets holds, per partition the batch covers, the offset after its
	// last record, including records that produced nothing above.
	Offsets map[TopicPartition]int64
}

// Entry is a conversation entry or a notification, as stored.
type Entry struct {
	Message      *Message
	Notification *Notification
}

// Pos returns where Kafka stored the entry.
func (e Entry) Pos() Position {
	if e.Message != nil {
		return e.Message.Pos
	}
	return e.Notification.Pos
}
