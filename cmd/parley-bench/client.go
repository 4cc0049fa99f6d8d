package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math"
	"net/http"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/coder/websocket"
)

// bodyMarker starts every message body the tool sends:
// "pb1 <id, hex> <send time, Unix ns> <recipient or *>". A reader finds it
// in an event with bytes.Index instead of decoding the event's JSON, which
// keeps the tool's own CPU use low next to the server's.
const bodyMarker = "pb1 "

func makeBody(id uint64, sent time.Time, to string) string {
	return bodyMarker + strconv.FormatUint(id, 16) + " " +
		strconv.FormatInt(sent.UnixNano(), 10) + " " + to
}

// parseBody finds the marker in line and returns what the body holds. The
// body ends at the first quote of the JSON string around it.
func parseBody(line []byte) (id uint64, sent int64, to []byte, ok bool) {
	i := bytes.Index(line, []byte(bodyMarker))
	if i < 0 {
		return 0, 0, nil, false
	}
	rest := line[i+len(bodyMarker):]
	if j := bytes.IndexByte(rest, '"'); j >= 0 {
		rest = rest[:j]
	}
	idField, rest, ok1 := bytes.Cut(rest, []byte(" "))
	sentField, to, ok2 := bytes.Cut(rest, []byte(" "))
	if !ok1 || !ok2 || len(to) == 0 || bytes.IndexByte(to, ' ') >= 0 {
		return 0, 0, nil, false
	}
	id, ok1 = parseHex(idField)
	sent, ok2 = parseDecimal(sentField)
	return id, sent, to, ok1 && ok2
}

// parseHex and parseDecimal parse the body's numbers without the string
// conversion strconv needs; the tool reads hundreds of thousands a second.
func parseHex(b []byte) (uint64, bool) {
	if len(b) == 0 || len(b) > 16 {
		return 0, false
	}
	var n uint64
	for _, c := range b {
		switch {
		case c >= '0' && c <= '9':
			n = n<<4 | uint64(c-'0')
		case c >= 'a' && c <= 'f':
			n = n<<4 | uint64(c-'a'+10)
		default:
			return 0, false
		}
	}
	return n, true
}

func parseDecimal(b []byte) (int64, bool) {
	if len(b) == 0 {
		return 0, false
	}
	var n int64
	for _, c := range b {
		d := int64(c - '0')
		if c < '0' || c > '9' || n > (math.MaxInt64-d)/10 {
			return 0, false
		}
		n = n*10 + d
	}
	return n, true
}

// idSet is a set of message IDs: a bitmap of the sequence numbers of each
// sending shard (an ID's top 16 bits), far cheaper than a map for the
// dense numbers the tool hands out.
type idSet struct {
	shards map[uint64][]uint64
}

// add adds id and reports whether it was new.
func (s *idSet) add(id uint64) bool {
	if s.shards == nil {
		s.shards = map[uint64][]uint64{}
	}
	shard, seq := id>>48, id&(1<<48-1)
	bits := s.shards[shard]
	w := int(seq / 64)
	if w >= len(bits) {
		bits = append(bits, make([]uint64, w+1-len(bits))...)
		s.shards[shard] = bits
	}
	mask := uint64(1) << (seq % 64)
	if bits[w]&mask != 0 {
		return false
	}
	bits[w] |= mask
	return true
}

// counters are a run's totals, shared by every connection of the process.
type counters struct {
	frames     atomic.Int64 // WebSocket frames read
	events     atomic.Int64 // events (lines) in them
	deliveries atomic.Int64 // tool messages a recipient got for the first time
	dups       atomic.Int64 // tool messages a recipient got again
	errors     atomic.Int64 // failed sends, error frames, broken connections
	sent       atomic.Int64 // sends started
	acked      atomic.Int64 // sends the server acknowledged
	overflow   atomic.Int64 // scheduled sends dropped: every sender was busy
	lastErr    atomic.Value // string
}

func (c *counters) fail(err error) {
	c.errors.Add(1)
	c.lastErr.Store(err.Error())
}

// conn is one WebSocket client of either server. Its read loop counts what
// arrives and passes tool messages meant for user to the run.
type conn struct {
	ws   *websocket.Conn
	user string
	run  *run
	// seen holds the IDs this connection received; only the read loop
	// touches it.
	seen idSet
	// pong answers a server ping line; nil when the protocol has none.
	pong func(ctx context.Context, line []byte) bool
	// reply handles a line that answers a client frame; nil when the
	// tool sends no frames on this connection.
	reply func(line []byte) bool
}

// dialWS opens a WebSocket. The default read limit of 32 KiB is too small
// for frames that batch many events.
func dialWS(ctx context.Context, url string, hdr http.Header) (*websocket.Conn, error) {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	ws, _, err := websocket.Dial(ctx, url, &websocket.DialOptions{HTTPHeader: hdr})
	if err != nil {
		return nil, fmt.Errorf("dial websocket: %w", err)
	}
	ws.SetReadLimit(64 << 20)
	return ws, nil
}

// readLoop runs until ctx ends or the connection breaks.
// Reads take no context, which would cost a context.AfterFunc per frame:
// the connection is closed when ctx ends instead. Frames are read into one
// buffer, reused.
func (c *conn) readLoop(ctx context.Context) {
	stop := context.AfterFunc(ctx, func() { c.ws.CloseNow() })
	defer stop()
	self := []byte(c.user)
	var buf bytes.Buffer
	for {
		data, err := c.readFrame(&buf)
		if err != nil {
			if ctx.Err() == nil && !errors.Is(err, context.Canceled) {
				c.run.c.fail(fmt.Errorf("read %s: %w", c.user, err))
			}
			return
		}
		c.run.c.frames.Add(1)
		for len(data) > 0 {
			line := data
			if i := bytes.IndexByte(data, '\n'); i >= 0 {
				line, data = data[:i], data[i+1:]
			} else {
				data = nil
			}
			if len(line) == 0 {
				continue
			}
			c.run.c.events.Add(1)
			c.line(ctx, line, self)
		}
	}
}

// readFrame reads the next frame into buf and returns its bytes, valid
// until the next call.
func (c *conn) readFrame(buf *bytes.Buffer) ([]byte, error) {
	_, r, err := c.ws.Reader(context.Background())
	if err != nil {
		return nil, err
	}
	buf.Reset()
	if _, err := buf.ReadFrom(r); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

func (c *conn) line(ctx context.Context, line, self []byte) {
	if c.pong != nil && c.pong(ctx, line) {
		return
	}
	if c.reply != nil && c.reply(line) {
		return
	}
	id, sent, to, ok := parseBody(line)
	if !ok || (!bytes.Equal(to, self) && !bytes.Equal(to, []byte("*"))) {
		return
	}
	if !c.seen.add(id) {
		c.run.c.dups.Add(1)
		return
	}
	c.run.delivered(id, sent)
}

func (c *conn) close() { c.ws.Close(websocket.StatusNormalClosure, "") }
