package parley

import "context"

// A transfer copies everything a Store holds into another Store, such as
// the SQLite store of an embedded node into the PostgreSQL store of a
// cluster (`parley migrate`). The source streams its contents as a
// sequence of TransferBatches through Exporter; the target writes each one
// through Importer. Neither is part of Store: a store offers them when it
// can be a source or a target.

// TransferBatch is one part of a store's contents. The Exporter fills any
// of its fields; together, the batches of one Export hold everything.
type TransferBatch struct {
	Users []Account
	// Groups come with their current strategy; their members are in
	// Members, of this batch or a later one.
	Groups  []Group
	Members []GroupMember
	// Messages are the entries of every conversation, messages and member
	// changes alike, with the Seq and Pos the archiver gave them.
	Messages []Message
	// Participants are the two rows of every DM with at least one entry.
	// Importing an entry of a DM adds them too; they travel anyway so that
	// a copy does not depend on that rule.
	Participants []DMParticipant
	// Notifications carry their Seq, which orders every inbox, and To,
	// their recipients (empty for a broadcast). Read is unused. Which
	// notification a newer one with the same collapse key replaces follows
	// from Seq, To, CollapseKey and the read marks, so no field carries it.
	Notifications []Notification
	// Reads are conversation read cursors (User, Conversation, Seq, At) and
	// notification read marks (User, Notification, At), as in Batch.
	Reads []ReadMark
	// Offsets are the source's archived offsets. They are positions in the
	// source's Kafka cluster: a copy into the store of another cluster,
	// whose partitions start at offset 0, must leave them out.
	Offsets map[TopicPartition]int64
}

// Len returns the number of rows the batch holds, counting an offset as a
// row.
func (b *TransferBatch) Len() int {
	return len(b.Users) + len(b.Groups) + len(b.Members) + len(b.Messages) +
		len(b.Participants) + len(b.Notifications) + len(b.Reads) + len(b.Offsets)
}

// Account is a user with its password hash, nil when it has none.
type Account struct {
	User         User
	PasswordHash []byte
}

// GroupMember is one membership of one group.
type GroupMember struct {
	Group  string // the group's ID
	Member Member
}

// DMParticipant says that User takes part in the DM Conversation with Peer.
type DMParticipant struct {
	User         string
	Conversation string
	Peer         string
}

// Exporter is a store that can stream its whole contents.
type Exporter interface {
	// Export calls fn with batches that together hold everything the store
	// holds, and returns the first error fn returns. Batches hold at most a
	// few thousand rows, so memory stays bounded whatever the history's
	// size; fn owns each batch it is given. A row comes after the rows it
	// depends on: a group before its members, a notification before the
	// read marks that name it. Export reads one consistent snapshot and
	// writes nothing. It is safe to call while the store is in use.
	Export(ctx context.Context, fn func(*TransferBatch) error) error
}

// Importer is a store that can take the batches of an Exporter.
type Importer interface {
	// Import writes one batch atomically: all of it or nothing. It keeps
	// everything as given: IDs, Seqs, positions, times, password hashes
	// and read state, so the target answers every Store method as the
	// source did. It is idempotent: a row whose key the store holds is left
	// as it is (the first one stored wins, as in Archive), read cursors and
	// offsets only move forward. A notification whose Seq the store gives
	// to a different notification is an error. Batches must come in the
	// order Export gives them. Notifications archived after an Import get
	// a Seq above every imported one.
	Import(ctx context.Context, b *TransferBatch) error
}
