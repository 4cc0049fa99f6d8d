-- The Seq generation: raised by `parley migrate` so that entries written
-- after a move to another Kafka cluster, whose offsets start at 0 again,
-- sort after the history it copied. One row.
CREATE TABLE seq_generation (
	one        integer PRIMARY KEY CHECK (one = 1),
	generation integer NOT NULL
);
INSERT INTO seq_generation (one, generation) VALUES (1, 0);
