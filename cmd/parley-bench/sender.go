package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"sync"
	"syscall"
	"time"
)

// httpSender posts the tool's sends (Parley's DMs and group messages,
// Centrifugo's publications) over a pool of persistent HTTP/1.1
// connections to one server. net/http's client costs the tool about as
// much CPU per request as the server spends answering it: two goroutines
// per connection that hand each request and response over, header maps,
// and a reader per body. This one writes a request from a reused buffer
// on the caller's goroutine, then reads the status line, the headers
// that frame the body, and the body. Set-up calls still use net/http.
//
// It is safe for concurrent use: each post holds a connection of its
// own until the answer is read.
type httpSender struct {
	addr    string // host:port, also sent as the Host header
	timeout time.Duration
	dialer  net.Dialer

	// mu guards idle, open and closed.
	mu sync.Mutex
	// idle is a stack, so that the connections in use stay few and warm.
	idle   []*httpConn
	open   map[*httpConn]struct{}
	closed bool
}

// httpConn is one connection of an httpSender.
type httpConn struct {
	nc       net.Conn
	br       *bufio.Reader
	req      []byte    // the request being written, reused
	body     []byte    // the last response's body, reused
	deadline time.Time // the connection's I/O deadline
	used     bool      // it has answered a request before
}

// response is what the sender reads of an answer. body is valid until
// the connection's next request.
type response struct {
	status int
	body   []byte
	close  bool // the server closes the connection after it
}

// errNoResponse means the connection ended before any byte of an answer
// arrived: the server had closed it while it sat idle.
var errNoResponse = errors.New("connection closed before any response")

// maxResponseBody bounds the body the sender reads; the answers it
// expects are a few hundred bytes.
const maxResponseBody = 1 << 20

func newHTTPSender(addr string, timeout time.Duration) *httpSender {
	return &httpSender{addr: addr, timeout: timeout, open: map[*httpConn]struct{}{}}
}

// post sends body (JSON) to path with one extra header line, such as
// "Authorization: Bearer ...", and passes the answer to check, which must
// not keep the body.
//
// A request that finds a reused connection closed by the server before
// any answer came goes once more on a new connection, as net/http does
// for a connection it sees closed while idle. The server had not read it:
// a server closes only connections that carry no request.
func (s *httpSender) post(ctx context.Context, path, header string, body []byte,
	check func(status int, body []byte) error) error {
	for attempt := 0; ; attempt++ {
		if err := ctx.Err(); err != nil {
			return err
		}
		c, err := s.get(ctx, attempt > 0)
		if err != nil {
			return fmt.Errorf("POST %s: %w", path, err)
		}
		resp, err := c.roundTrip(s.addr, path, header, body, s.timeout)
		if err != nil {
			s.discard(c)
			if c.used && attempt == 0 && errors.Is(err, errNoResponse) {
				continue
			}
			return fmt.Errorf("POST %s: %w", path, err)
		}
		err = check(resp.status, resp.body)
		c.used = true
		if resp.close {
			s.discard(c)
		} else {
			s.put(c)
		}
		if err != nil {
			return fmt.Errorf("POST %s: %w", path, err)
		}
		return nil
	}
}

// get returns an idle connection, or a new one; fresh asks for a new one,
// for a request that found an idle one closed (others may be too).
func (s *httpSender) get(ctx context.Context, fresh bool) (*httpConn, error) {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil, net.ErrClosed
	}
	if n := len(s.idle); n > 0 && !fresh {
		c := s.idle[n-1]
		s.idle = s.idle[:n-1]
		s.mu.Unlock()
		return c, nil
	}
	s.mu.Unlock()

	nc, err := s.dialer.DialContext(ctx, "tcp", s.addr)
	if err != nil {
		return nil, fmt.Errorf("dial: %w", err)
	}
	c := &httpConn{nc: nc, br: bufio.NewReaderSize(nc, 4096)}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		nc.Close()
		return nil, net.ErrClosed
	}
	s.open[c] = struct{}{}
	return c, nil
}

func (s *httpSender) put(c *httpConn) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return // close has closed it
	}
	s.idle = append(s.idle, c)
}

func (s *httpSender) discard(c *httpConn) {
	c.nc.Close()
	s.mu.Lock()
	delete(s.open, c)
	s.mu.Unlock()
}

// close closes every connection, those in use too: a post waiting for an
// answer then fails at once.
func (s *httpSender) close() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.closed = true
	for c := range s.open {
		c.nc.Close()
	}
	s.open, s.idle = nil, nil
}

// roundTrip writes one request and reads its answer.
func (c *httpConn) roundTrip(host, path, header string, body []byte,
	timeout time.Duration) (response, error) {
	// Moving a deadline costs a timer update; moving it only once half
	// of it has passed keeps that off most requests.
	if now := time.Now(); c.deadline.Sub(now) < timeout/2 {
		c.deadline = now.Add(timeout)
		if err := c.nc.SetDeadline(c.deadline); err != nil {
			return response{}, fmt.Errorf("set deadline: %w", err)
		}
	}

	c.req = appendPost(c.req[:0], host, path, header, body)
	if _, err := c.nc.Write(c.req); err != nil {
		if isBroken(err) {
			err = fmt.Errorf("%w: %w", errNoResponse, err)
		}
		return response{}, fmt.Errorf("write request: %w", err)
	}
	resp, err := readResponse(c.br, c.body[:0])
	c.body = resp.body
	return resp, err
}

// isBroken reports whether err says the peer had closed the connection.
func isBroken(err error) bool {
	return errors.Is(err, syscall.EPIPE) || errors.Is(err, syscall.ECONNRESET)
}

// appendPost appends a POST request with a JSON body to b.
func appendPost(b []byte, host, path, header string, body []byte) []byte {
	b = append(b, "POST "...)
	b = append(b, path...)
	b = append(b, " HTTP/1.1\r\nHost: "...)
	b = append(b, host...)
	b = append(b, "\r\n"...)
	if header != "" {
		b = append(b, header...)
		b = append(b, "\r\n"...)
	}
	b = append(b, "Content-Type: application/json\r\nContent-Length: "...)
	b = strconv.AppendInt(b, int64(len(body)), 10)
	b = append(b, "\r\n\r\n"...)
	return append(b, body...)
}

// readResponse reads one answer from br, its body into buf (reused).
// It reads what Go's servers (Parley's, Centrifugo's) send: HTTP/1.x, a
// body framed by Content-Length or chunked, and fails on anything else
// rather than guess where the answer ends.
func readResponse(br *bufio.Reader, buf []byte) (response, error) {
	r := response{body: buf}
	line, err := br.ReadSlice('\n')
	if err != nil {
		if len(line) == 0 && (err == io.EOF || isBroken(err)) {
			err = fmt.Errorf("%w: %w", errNoResponse, err)
		}
		return r, fmt.Errorf("read status line: %w", err)
	}
	var http10 bool
	if r.status, http10, err = parseStatusLine(line); err != nil {
		return r, err
	}
	r.close = http10 // HTTP/1.0 keeps nothing alive unless asked
	if r.status < 200 {
		return r, fmt.Errorf("unexpected interim response %d", r.status)
	}

	length, chunked, err := readHeaders(br, &r)
	if err != nil {
		return r, err
	}
	switch {
	case r.status == 204 || r.status == 304:
	case chunked:
		r.body, err = readChunked(br, r.body)
	case length >= 0:
		r.body, err = readFull(br, r.body, length)
	default:
		err = errors.New("response has neither Content-Length nor chunked encoding")
	}
	return r, err
}

// parseStatusLine parses "HTTP/1.1 201 Created\r\n".
func parseStatusLine(line []byte) (status int, http10 bool, err error) {
	l := trimEOL(line)
	if len(l) < 12 || !bytes.HasPrefix(l, []byte("HTTP/1.")) || (l[7] != '0' && l[7] != '1') ||
		l[8] != ' ' || (len(l) > 12 && l[12] != ' ') {
		return 0, false, fmt.Errorf("malformed status line %q", line)
	}
	for _, d := range l[9:12] {
		if d < '0' || d > '9' {
			return 0, false, fmt.Errorf("malformed status line %q", line)
		}
		status = status*10 + int(d-'0')
	}
	return status, l[7] == '0', nil
}

// readHeaders reads the header lines up to the empty one and returns the
// body's framing; it notes in r whether the server closes the
// connection. length is -1 when there is no Content-Length.
func readHeaders(br *bufio.Reader, r *response) (length int, chunked bool, err error) {
	length = -1
	for {
		line, err := br.ReadSlice('\n')
		if err != nil {
			return 0, false, fmt.Errorf("read header: %w", err)
		}
		l := trimEOL(line)
		if len(l) == 0 {
			break
		}
		name, value, ok := bytes.Cut(l, []byte(":"))
		if !ok {
			return 0, false, fmt.Errorf("malformed header line %q", line)
		}
		value = bytes.TrimSpace(value)
		switch {
		case bytes.EqualFold(name, []byte("Content-Length")):
			n, ok := parseDecimal(value)
			if !ok || n > maxResponseBody || (length >= 0 && int(n) != length) {
				return 0, false, fmt.Errorf("bad Content-Length %q", value)
			}
			length = int(n)
		case bytes.EqualFold(name, []byte("Transfer-Encoding")):
			if !bytes.EqualFold(value, []byte("chunked")) {
				return 0, false, fmt.Errorf("unsupported Transfer-Encoding %q", value)
			}
			chunked = true
		case bytes.EqualFold(name, []byte("Connection")):
			if hasToken(value, "close") {
				r.close = true
			} else if hasToken(value, "keep-alive") {
				r.close = false
			}
		}
	}
	if chunked && length >= 0 {
		return 0, false, errors.New("response has both Content-Length and chunked encoding")
	}
	return length, chunked, nil
}

// readChunked reads a chunked body, and its trailer, onto buf.
func readChunked(br *bufio.Reader, buf []byte) ([]byte, error) {
	for {
		line, err := br.ReadSlice('\n')
		if err != nil {
			return buf, fmt.Errorf("read chunk size: %w", err)
		}
		sizeField, _, _ := bytes.Cut(trimEOL(line), []byte(";")) // drop extensions
		size, ok := parseHexSize(bytes.TrimSpace(sizeField))
		if !ok || len(buf)+size > maxResponseBody {
			return buf, fmt.Errorf("bad chunk size %q", line)
		}
		if size == 0 {
			return buf, skipTrailer(br)
		}
		if buf, err = readFull(br, buf, size); err != nil {
			return buf, err
		}
		line, err = br.ReadSlice('\n')
		if err != nil || len(trimEOL(line)) != 0 {
			return buf, fmt.Errorf("chunk not followed by its line end: %q", line)
		}
	}
}

// skipTrailer reads the trailer fields after the last chunk, up to the
// empty line.
func skipTrailer(br *bufio.Reader) error {
	for {
		line, err := br.ReadSlice('\n')
		if err != nil {
			return fmt.Errorf("read trailer: %w", err)
		}
		if len(trimEOL(line)) == 0 {
			return nil
		}
	}
}

// readFull appends n bytes of br to buf.
func readFull(br *bufio.Reader, buf []byte, n int) ([]byte, error) {
	start := len(buf)
	buf = append(buf, make([]byte, n)...)
	if _, err := io.ReadFull(br, buf[start:]); err != nil {
		return buf[:start], fmt.Errorf("read body: %w", err)
	}
	return buf, nil
}

// parseHexSize parses a chunk size; parseHex's limit of 16 digits is
// far above what maxResponseBody lets through.
func parseHexSize(b []byte) (int, bool) {
	lower := bytes.ToLower(b)
	n, ok := parseHex(lower)
	if !ok || n > maxResponseBody {
		return 0, false
	}
	return int(n), true
}

func trimEOL(line []byte) []byte {
	line = bytes.TrimSuffix(line, []byte("\n"))
	return bytes.TrimSuffix(line, []byte("\r"))
}

// hasToken reports whether the comma-separated header value holds tok,
// in any case.
func hasToken(value []byte, tok string) bool {
	for len(value) > 0 {
		var t []byte
		t, value, _ = bytes.Cut(value, []byte(","))
		if bytes.EqualFold(bytes.TrimSpace(t), []byte(tok)) {
			return true
		}
	}
	return false
}

// appendJSONString appends s to b as a JSON string.
func appendJSONString(b []byte, s string) []byte {
	const hex = "0123456789abcdef"
	b = append(b, '"')
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c == '"' || c == '\\':
			b = append(b, '\\', c)
		case c < 0x20:
			b = append(b, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xf])
		default:
			b = append(b, c)
		}
	}
	return append(b, '"')
}
