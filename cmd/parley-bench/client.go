package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
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
	f := bytes.Fields(rest)
	if len(f) != 3 {
		return 0, 0, nil, false
	}
	id, err1 := strconv.ParseUint(string(f[0]), 16, 64)
	sent, err2 := strconv.ParseInt(string(f[1]), 10, 64)
	if err1 != nil || err2 != nil {
		return 0, 0, nil, false
	}
	return id, sent, f[2], true
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
	seen map[uint64]struct{}
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
func (c *conn) readLoop(ctx context.Context) {
	self := []byte(c.user)
	for {
		_, data, err := c.ws.Read(ctx)
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
	if _, dup := c.seen[id]; dup {
		c.run.c.dups.Add(1)
		return
	}
	c.seen[id] = struct{}{}
	c.run.delivered(id, sent)
}

func (c *conn) close() { c.ws.Close(websocket.StatusNormalClosure, "") }
