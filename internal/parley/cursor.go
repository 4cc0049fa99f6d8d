package parley

import (
	"cmp"
	"encoding/base64"
	"encoding/binary"
	"maps"
	"math"
	"slices"
	"strconv"
	"strings"
)

// A conversation's entries are ordered by their Seq:
//
//	Seq = generation<<50 | epoch<<48 | (offset+1)
//
// A group first lives on the shared topic and may later move to a topic of
// its own; the epoch keeps the order across that move. The generation keeps
// it across a move of the whole deployment to another Kafka cluster, whose
// offsets start at 0 again: `parley migrate` raises it in the store it
// copies history into. The +1 keeps zero free to mean "no cursor". Offsets
// stay far below 2^48 (a partition taking a million records a second needs
// nine years to get there).
const (
	seqEpochShift      = 48
	seqGenerationShift = 50
)

// MaxSeqGeneration is the highest generation a Seq can carry.
const MaxSeqGeneration = 1<<(63-seqGenerationShift) - 1

// WithGeneration returns seq in generation g.
func WithGeneration(seq int64, g int) int64 { return int64(g)<<seqGenerationShift | seq }

// GenerationOf returns the generation of a Seq.
func GenerationOf(seq int64) int { return int(seq >> seqGenerationShift) }

// Epochs of a conversation's topic.
const (
	EpochShared    = 0 // direct-messages, group-messages
	EpochDedicated = 1 // group.<id>
)

// SeqOf returns the Seq, in generation 0, of the record at offset in a
// topic of the epoch.
func SeqOf(epoch int, offset int64) int64 { return int64(epoch)<<seqEpochShift | (offset + 1) }

// FormatSeq renders a Seq as the opaque cursor clients see.
func FormatSeq(seq int64) string { return strconv.FormatInt(seq, 10) }

// ParseSeq parses a cursor from FormatSeq. The empty string is zero.
func ParseSeq(s string) (int64, error) {
	if s == "" {
		return 0, nil
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n < 0 {
		return 0, Errorf(ErrInvalid, "invalid_cursor", "cursor %q is not valid", s)
	}
	return n, nil
}

// Page selects part of an ordered list: entries after After and before
// Before (each zero when unset), at most Limit of them. With Before set or
// neither set, the newest Limit entries of the range are taken; with only
// After set, the oldest. Results are always returned oldest first, except
// where a method says otherwise.
type Page struct {
	Before int64
	After  int64
	Limit  int
}

// Page size bounds.
const (
	DefaultPageLimit = 50
	MaxPageLimit     = 500
)

// Size returns the page's limit within the page size bounds: zero or less
// is DefaultPageLimit.
func (p Page) Size() int {
	if p.Limit <= 0 {
		return DefaultPageLimit
	}
	return min(p.Limit, MaxPageLimit)
}

// Bounds returns the page as an open interval (lo, hi) of Seqs. An unset
// After is -1, not 0, so that an entry at Seq 0 (which stores allow) is in.
func (p Page) Bounds() (lo, hi int64) {
	lo, hi = -1, math.MaxInt64
	if p.After > 0 {
		lo = p.After
	}
	if p.Before > 0 {
		hi = p.Before
	}
	return lo, hi
}

// StreamCursor is a position in a user's live stream: for each partition of
// the topics Parley tails, the offset of the first record the client has not
// had yet. A client that resumes with it gets every event after it exactly
// once. It is the SSE event ID and the "stream" field of WebSocket events.
type StreamCursor map[TopicPartition]int64

// Clone returns a copy of c.
func (c StreamCursor) Clone() StreamCursor { return maps.Clone(c) }

var errBadStreamCursor = Errorf(ErrInvalid, "invalid_stream_cursor", "stream cursor is not valid")

// String encodes c compactly and URL-safely: per topic its name, partition
// count and, per partition, its offset, as varints in base64url. Topics
// and partitions are in order, so equal cursors encode alike. The
// dispatcher encodes a cursor for every event it delivers; a cursor of
// up to maxStackPartitions partitions is sorted and encoded on the stack.
func (c StreamCursor) String() string {
	if len(c) == 0 {
		return ""
	}
	type entry struct {
		tp     TopicPartition
		offset int64
	}
	var entryArr [maxStackPartitions]entry
	es := entryArr[:0]
	for tp, off := range c {
		es = append(es, entry{tp, off})
	}
	slices.SortFunc(es, func(a, b entry) int { return compareTopicPartitions(a.tp, b.tp) })

	var bufArr [maxStackPartitions * 8]byte
	buf := append(bufArr[:0], 1) // format version
	for i := 0; i < len(es); {
		topic := es[i].tp.Topic
		j := i + 1
		for j < len(es) && es[j].tp.Topic == topic {
			j++
		}
		buf = binary.AppendUvarint(buf, uint64(len(topic)))
		buf = append(buf, topic...)
		buf = binary.AppendUvarint(buf, uint64(j-i))
		for _, e := range es[i:j] {
			buf = binary.AppendUvarint(buf, uint64(e.tp.Partition))
			buf = binary.AppendUvarint(buf, uint64(e.offset))
		}
		i = j
	}
	return base64.RawURLEncoding.EncodeToString(buf)
}

// maxStackPartitions is how many partitions String handles without
// allocating for the sort; more cost an allocation, nothing else.
const maxStackPartitions = 32

func compareTopicPartitions(a, b TopicPartition) int {
	if c := strings.Compare(a.Topic, b.Topic); c != 0 {
		return c
	}
	return cmp.Compare(a.Partition, b.Partition)
}

// ParseStreamCursor decodes a cursor from StreamCursor.String. The empty
// string is a nil cursor: start from now.
func ParseStreamCursor(s string) (StreamCursor, error) {
	if s == "" {
		return nil, nil
	}
	if len(s) > 64<<10 {
		return nil, errBadStreamCursor
	}
	buf, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil || len(buf) == 0 || buf[0] != 1 {
		return nil, errBadStreamCursor
	}
	buf = buf[1:]
	next := func() (uint64, bool) {
		v, n := binary.Uvarint(buf)
		if n <= 0 {
			return 0, false
		}
		buf = buf[n:]
		return v, true
	}
	c := StreamCursor{}
	for len(buf) > 0 {
		l, ok := next()
		if !ok || l == 0 || l > 249 || uint64(len(buf)) < l {
			return nil, errBadStreamCursor
		}
		topic := string(buf[:l])
		buf = buf[l:]
		n, ok := next()
		if !ok || n > 1<<16 {
			return nil, errBadStreamCursor
		}
		for range n {
			p, ok1 := next()
			o, ok2 := next()
			if !ok1 || !ok2 || p > 1<<31-1 || o > 1<<62 {
				return nil, errBadStreamCursor
			}
			c[TopicPartition{topic, int32(p)}] = int64(o)
		}
	}
	if len(c) == 0 {
		return nil, errBadStreamCursor
	}
	return c, nil
}
