-- Parley's first schema on PostgreSQL, the counterpart of the SQLite one.
-- Identifier columns use the "C" collation: they sort by bytes, whatever
-- the database's locale, and compare with each other without a collation
-- conflict.

CREATE TABLE users (
	id            text COLLATE "C" PRIMARY KEY,
	created_at    timestamptz NOT NULL,
	password_hash bytea -- NULL for a user created by EnsureUser
);

CREATE TABLE chat_groups (
	id         text COLLATE "C" PRIMARY KEY,
	name       text NOT NULL,
	owner      text COLLATE "C" NOT NULL,
	strategy   text NOT NULL,
	created_at timestamptz NOT NULL
);

CREATE TABLE members (
	group_id  text COLLATE "C" NOT NULL REFERENCES chat_groups (id) ON DELETE CASCADE,
	user_id   text COLLATE "C" NOT NULL,
	role      text NOT NULL,
	joined_at timestamptz NOT NULL,
	PRIMARY KEY (group_id, user_id)
);

-- GroupsOf, Conversations and UserEntries start from the user.
CREATE INDEX members_by_user ON members (user_id, group_id);

-- Every entry of every conversation. The primary key makes Archive
-- idempotent: the first entry stored with an ID wins.
CREATE TABLE messages (
	conversation  text COLLATE "C" NOT NULL,
	id            text COLLATE "C" NOT NULL,
	seq           bigint NOT NULL,
	type          text NOT NULL,
	sender        text COLLATE "C" NOT NULL,
	body          text NOT NULL,
	client_id     text NOT NULL,
	sent_at       timestamptz NOT NULL,
	member_user   text COLLATE "C", -- member_* are NULL unless type = 'member'
	member_action text,
	member_role   text,
	pos_topic     text COLLATE "C" NOT NULL,
	pos_partition integer NOT NULL,
	pos_offset    bigint NOT NULL,
	PRIMARY KEY (conversation, id)
);

-- History pages by seq; the unread count of Conversations is answered from
-- this index alone.
CREATE INDEX messages_by_seq ON messages (conversation, seq) INCLUDE (type, sender);

-- UserEntries reads a partition's offset range.
CREATE INDEX messages_by_pos ON messages (pos_topic, pos_partition, pos_offset);

-- The two participants of every DM with at least one archived entry, one
-- row per participant.
CREATE TABLE dm_participants (
	user_id      text COLLATE "C" NOT NULL,
	conversation text COLLATE "C" NOT NULL,
	peer         text COLLATE "C" NOT NULL,
	PRIMARY KEY (user_id, conversation)
);

CREATE TABLE read_cursors (
	user_id      text COLLATE "C" NOT NULL,
	conversation text COLLATE "C" NOT NULL,
	seq          bigint NOT NULL,
	read_at      timestamptz NOT NULL,
	PRIMARY KEY (user_id, conversation)
);

-- seq is assigned at insert, in archive order within a batch.
CREATE TABLE notifications (
	seq           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	id            text COLLATE "C" NOT NULL UNIQUE,
	broadcast     boolean NOT NULL,
	recipients    text[] COLLATE "C" NOT NULL, -- in the order given, empty for a broadcast
	title         text NOT NULL,
	body          text NOT NULL,
	kind          text NOT NULL,
	priority      text NOT NULL,
	data          bytea, -- the JSON as given, NULL when none
	collapse_key  text COLLATE "C" NOT NULL,
	expires_at    timestamptz, -- NULL when it never expires
	created_at    timestamptz NOT NULL,
	pos_topic     text COLLATE "C" NOT NULL,
	pos_partition integer NOT NULL,
	pos_offset    bigint NOT NULL
);

CREATE INDEX notifications_broadcast ON notifications (seq) WHERE broadcast;

-- Is there a newer broadcast with the same collapse key?
CREATE INDEX notifications_broadcast_collapse ON notifications (collapse_key, seq)
	WHERE broadcast AND collapse_key <> '';

CREATE INDEX notifications_by_pos ON notifications (pos_topic, pos_partition, pos_offset);

-- One row per addressed recipient; collapse_key is copied here so that the
-- "replaced by a newer one" test is one index probe per notification.
CREATE TABLE notification_recipients (
	user_id      text COLLATE "C" NOT NULL,
	seq          bigint NOT NULL REFERENCES notifications (seq),
	collapse_key text COLLATE "C" NOT NULL,
	PRIMARY KEY (user_id, seq)
);

CREATE INDEX notification_recipients_collapse
	ON notification_recipients (user_id, collapse_key, seq)
	WHERE collapse_key <> '';

CREATE TABLE notification_reads (
	user_id text COLLATE "C" NOT NULL,
	seq     bigint NOT NULL REFERENCES notifications (seq),
	read_at timestamptz NOT NULL,
	PRIMARY KEY (user_id, seq)
);

CREATE TABLE archived_offsets (
	pos_topic     text COLLATE "C" NOT NULL,
	pos_partition integer NOT NULL,
	next_offset   bigint NOT NULL, -- after the last archived record
	PRIMARY KEY (pos_topic, pos_partition)
);
