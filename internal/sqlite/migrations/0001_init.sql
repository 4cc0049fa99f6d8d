-- Parley's first schema. Times are Unix microseconds; zero or NULL times
-- are spelled out per column.

CREATE TABLE users (
	id            TEXT PRIMARY KEY,
	created_at    INTEGER NOT NULL,
	password_hash BLOB -- NULL for a user created by EnsureUser
);

CREATE TABLE chat_groups (
	id         TEXT PRIMARY KEY,
	name       TEXT NOT NULL,
	owner      TEXT NOT NULL,
	strategy   TEXT NOT NULL,
	created_at INTEGER NOT NULL
);

CREATE TABLE members (
	group_id  TEXT NOT NULL REFERENCES chat_groups (id) ON DELETE CASCADE,
	user_id   TEXT NOT NULL,
	role      TEXT NOT NULL,
	joined_at INTEGER NOT NULL,
	PRIMARY KEY (group_id, user_id)
) WITHOUT ROWID;

-- GroupsOf, Conversations and UserEntries start from the user.
CREATE INDEX members_by_user ON members (user_id, group_id);

-- Every entry of every conversation. (conversation, id) is unique: the
-- first entry stored with an ID wins, which makes Archive idempotent.
CREATE TABLE messages (
	conversation  TEXT NOT NULL,
	seq           INTEGER NOT NULL,
	id            TEXT NOT NULL,
	type          TEXT NOT NULL,
	sender        TEXT NOT NULL,
	body          TEXT NOT NULL,
	client_id     TEXT NOT NULL,
	sent_at       INTEGER NOT NULL,
	member_user   TEXT, -- member_* are NULL unless type = 'member'
	member_action TEXT,
	member_role   TEXT,
	pos_topic     TEXT NOT NULL,
	pos_partition INTEGER NOT NULL,
	pos_offset    INTEGER NOT NULL
);

CREATE UNIQUE INDEX messages_by_id ON messages (conversation, id);

-- History pages by seq; the unread count of Conversations is answered from
-- this index alone (it covers type and sender).
CREATE INDEX messages_by_seq ON messages (conversation, seq, type, sender);

-- UserEntries reads a partition's offset range.
CREATE INDEX messages_by_pos
	ON messages (pos_topic, pos_partition, pos_offset);

-- The two participants of every DM with at least one archived entry, one
-- row per participant.
CREATE TABLE dm_participants (
	user_id      TEXT NOT NULL,
	conversation TEXT NOT NULL,
	peer         TEXT NOT NULL,
	PRIMARY KEY (user_id, conversation)
) WITHOUT ROWID;

CREATE TABLE read_cursors (
	user_id      TEXT NOT NULL,
	conversation TEXT NOT NULL,
	seq          INTEGER NOT NULL,
	read_at      INTEGER NOT NULL,
	PRIMARY KEY (user_id, conversation)
) WITHOUT ROWID;

-- seq is the rowid: assigned in archive order, never reused because
-- notifications are never deleted.
CREATE TABLE notifications (
	seq          INTEGER PRIMARY KEY,
	id           TEXT NOT NULL UNIQUE,
	broadcast    INTEGER NOT NULL,
	recipients   TEXT NOT NULL, -- JSON array of user IDs, [] for a broadcast
	title        TEXT NOT NULL,
	body         TEXT NOT NULL,
	kind         TEXT NOT NULL,
	priority     TEXT NOT NULL,
	data         BLOB,
	collapse_key TEXT NOT NULL,
	expires_at   INTEGER, -- NULL when it never expires
	created_at   INTEGER NOT NULL,
	pos_topic     TEXT NOT NULL,
	pos_partition INTEGER NOT NULL,
	pos_offset    INTEGER NOT NULL
);

CREATE INDEX notifications_broadcast ON notifications (seq)
	WHERE broadcast = 1;

-- Is there a newer broadcast with the same collapse key?
CREATE INDEX notifications_broadcast_collapse
	ON notifications (collapse_key, seq)
	WHERE broadcast = 1 AND collapse_key <> '';

CREATE INDEX notifications_by_pos
	ON notifications (pos_topic, pos_partition, pos_offset);

-- One row per addressed recipient; collapse_key is copied here so that the
-- "replaced by a newer one" test is one index probe per notification.
CREATE TABLE notification_recipients (
	user_id      TEXT NOT NULL,
	seq          INTEGER NOT NULL REFERENCES notifications (seq),
	collapse_key TEXT NOT NULL,
	PRIMARY KEY (user_id, seq)
) WITHOUT ROWID;

CREATE INDEX notification_recipients_collapse
	ON notification_recipients (user_id, collapse_key, seq)
	WHERE collapse_key <> '';

CREATE TABLE notification_reads (
	user_id TEXT NOT NULL,
	seq     INTEGER NOT NULL REFERENCES notifications (seq),
	read_at INTEGER NOT NULL,
	PRIMARY KEY (user_id, seq)
) WITHOUT ROWID;

CREATE TABLE archived_offsets (
	pos_topic     TEXT NOT NULL,
	pos_partition INTEGER NOT NULL,
	next_offset   INTEGER NOT NULL, -- after the last archived record
	PRIMARY KEY (pos_topic, pos_partition)
) WITHOUT ROWID;
