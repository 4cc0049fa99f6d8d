package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/parley-chat/parley/internal/kafka"
	"github.com/parley-chat/parley/internal/parley"
)

// parleyTarget drives a running Parley through its public interface: the
// HTTP API, /v1/ws, and a plain Kafka producer for notifications.
type parleyTarget struct {
	base   string // http://host:port
	secret []byte
	http   *http.Client // set-up calls
	send   *httpSender  // DMs and group messages
	wsSend bool         // DMs go as WebSocket send frames instead of HTTP
	kafka  *kafka.Client
	topic  string

	// mu guards tokens and auth.
	mu     sync.Mutex
	tokens map[string]string
	auth   map[string]string // user -> "Authorization: Bearer <token>"
}

func newParleyTarget(ctx context.Context, o *options) (*parleyTarget, error) {
	t := &parleyTarget{
		base:   "http://" + o.addr,
		secret: []byte(o.secret),
		http:   newHTTPClient(o.workers),
		send:   newHTTPSender(o.addr, sendTimeout),
		wsSend: o.sender == "ws",
		topic:  o.notifyTopic,
		tokens: map[string]string{},
		auth:   map[string]string{},
	}
	if o.scenario == "notify" && o.shard.i == 0 {
		kc, err := kafka.New(ctx, kafka.Config{Brokers: []string{o.kafkaAddr}, ClientID: "parley-bench"})
		if err != nil {
			return nil, fmt.Errorf("connect to kafka: %w", err)
		}
		t.kafka = kc
	}
	return t, nil
}

// sendTimeout bounds one HTTP call, a send or a set-up call.
const sendTimeout = 30 * time.Second

func newHTTPClient(conns int) *http.Client {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.MaxIdleConns = conns
	tr.MaxIdleConnsPerHost = conns
	return &http.Client{Transport: tr, Timeout: sendTimeout}
}

func (t *parleyTarget) name() string { return "parley" }

func (t *parleyTarget) close() {
	t.send.close()
	if t.kafka != nil {
		t.kafka.Close()
	}
}

// token mints a user token the way an app backend holding the server's
// secret would, so no user needs to register first.
func (t *parleyTarget) token(user string) string {
	t.mu.Lock()
	defer t.mu.Unlock()
	if tok, ok := t.tokens[user]; ok {
		return tok
	}
	tok := mintHS256(t.secret, user, nil)
	t.tokens[user] = tok
	return tok
}

// authLine returns the header line that carries user's token, made once.
func (t *parleyTarget) authLine(user string) string {
	t.mu.Lock()
	line, ok := t.auth[user]
	t.mu.Unlock()
	if ok {
		return line
	}
	line = "Authorization: Bearer " + t.token(user)
	t.mu.Lock()
	t.auth[user] = line
	t.mu.Unlock()
	return line
}

func mintHS256(secret []byte, user string, extra map[string]any) string {
	claims := jwt.MapClaims{"sub": user, "exp": time.Now().Add(24 * time.Hour).Unix()}
	for k, v := range extra {
		claims[k] = v
	}
	tok, err := jwt.NewWithClaims(jwt.SigningMethodHS256, claims).SignedString(secret)
	if err != nil {
		panic(err) // HS256 with a byte key cannot fail
	}
	return tok
}

func (t *parleyTarget) connect(ctx context.Context, r *run, user, _ string) (*conn, error) {
	u := strings.Replace(t.base, "http", "ws", 1) + "/v1/ws?token=" + url.QueryEscape(t.token(user))
	ws, err := dialWS(ctx, u, nil)
	if err != nil {
		return nil, err
	}
	c := &conn{ws: ws, user: user, run: r}
	c.reply = func(line []byte) bool { return parleyReply(r, line) }
	return c, nil
}

// parleyReply handles the answer to a send frame: the ref is the message's
// ID in hex.
func parleyReply(r *run, line []byte) bool {
	switch {
	case bytes.HasPrefix(line, []byte(`{"type":"sent","ref":"`)):
		ref := line[len(`{"type":"sent","ref":"`):]
		if i := bytes.IndexByte(ref, '"'); i >= 0 {
			if id, err := strconv.ParseUint(string(ref[:i]), 16, 64); err == nil {
				r.ack(id, 1)
			}
		}
		return true
	case bytes.HasPrefix(line, []byte(`{"type":"error"`)):
		r.c.fail(fmt.Errorf("error frame: %.200s", line))
		return true
	}
	return false
}

func (t *parleyTarget) sendDM(ctx context.Context, r *run, from, to string, id uint64, body string) error {
	if t.wsSend {
		c := r.conns[from]
		frame, _ := json.Marshal(map[string]string{
			"type": "send", "ref": strconv.FormatUint(id, 16), "to": to,
			"body": body, "client_id": strconv.FormatUint(id, 16),
		})
		return c.ws.Write(ctx, 1, frame) // 1: text frame
	}
	err := t.postMessage(ctx, from, "/v1/dm/"+to+"/messages", id, body)
	if err == nil {
		r.ack(id, 1)
	}
	return err
}

func (t *parleyTarget) sendGroup(ctx context.Context, r *run, from, group string, id uint64,
	body string, want int) error {
	err := t.postMessage(ctx, from, "/v1/groups/"+group+"/messages", id, body)
	if err == nil {
		r.ack(id, want)
	}
	return err
}

// postMessage posts a message as from; the server acknowledges it with
// 201 Created.
func (t *parleyTarget) postMessage(ctx context.Context, from, path string, id uint64,
	body string) error {
	var buf [256]byte
	b := append(buf[:0], `{"body":`...)
	b = appendJSONString(b, body)
	b = append(b, `,"client_id":"`...)
	b = strconv.AppendUint(b, id, 16)
	b = append(b, `"}`...)
	return t.send.post(ctx, path, t.authLine(from), b, wantCreated)
}

func wantCreated(status int, body []byte) error {
	if status != http.StatusCreated {
		return fmt.Errorf("status %d: %.200s", status, body)
	}
	return nil
}

// notify produces a plain-text notification keyed by its recipient, as any
// Kafka client would.
func (t *parleyTarget) notify(ctx context.Context, r *run, to string, id uint64, body string) error {
	rec := &parley.Record{Topic: t.topic, Key: []byte(to), Value: []byte(body)}
	if err := t.kafka.Produce(ctx, rec); err != nil {
		return err
	}
	r.ack(id, 1)
	return nil
}

// setupGroup makes sure every member exists (a minted token creates its
// user on first use), then creates the group. Members are added before
// anyone connects: each addition is an event every connected member
// would receive.
func (t *parleyTarget) setupGroup(ctx context.Context, group, owner string, members []string) error {
	if err := parallel(ctx, 64, len(members), func(ctx context.Context, i int) error {
		return t.get(ctx, members[i], "/v1/me", nil)
	}); err != nil {
		return fmt.Errorf("create members: %w", err)
	}
	if err := t.get(ctx, owner, "/v1/me", nil); err != nil {
		return fmt.Errorf("create owner: %w", err)
	}

	// Creation names up to 10,000 members (within its 1 MiB body limit);
	// any others are added one by one.
	first := min(len(members), 10000)
	err := t.post(ctx, owner, "/v1/groups", map[string]any{
		"id": group, "name": group, "members": members[:first]}, http.StatusCreated)
	if err != nil {
		return fmt.Errorf("create group: %w", err)
	}
	rest := members[first:]
	err = parallel(ctx, 16, len(rest), func(ctx context.Context, i int) error {
		return t.post(ctx, owner, "/v1/groups/"+group+"/members",
			map[string]string{"user": rest[i]}, http.StatusCreated)
	})
	if err != nil {
		return fmt.Errorf("add members: %w", err)
	}
	return t.awaitDispatched(ctx, group, owner)
}

// awaitDispatched waits until the server's live stream has passed the
// set-up's membership events. Otherwise the members would connect while
// the server still delivers them, one per member to every member, and the
// first step would measure that. It posts a probe message after them (same
// partition, so dispatched after them) and waits for it on a connection
// of the owner.
func (t *parleyTarget) awaitDispatched(ctx context.Context, group, owner string) error {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Minute)
	defer cancel()
	u := strings.Replace(t.base, "http", "ws", 1) + "/v1/ws?token=" + url.QueryEscape(t.token(owner))
	ws, err := dialWS(ctx, u, nil)
	if err != nil {
		return err
	}
	defer ws.CloseNow()
	probe := fmt.Sprintf("probe-%d", time.Now().UnixNano())
	posted := false
	for {
		_, data, err := ws.Read(ctx)
		if err != nil {
			return fmt.Errorf("wait for membership events: %w", err)
		}
		if !posted && bytes.Contains(data, []byte(`"type":"ready"`)) {
			err := t.post(ctx, owner, "/v1/groups/"+group+"/messages",
				map[string]string{"body": probe}, http.StatusCreated)
			if err != nil {
				return fmt.Errorf("post probe: %w", err)
			}
			posted = true
		}
		if bytes.Contains(data, []byte(probe)) {
			return nil
		}
	}
}

// waitGroup waits until the group has want members besides its owner; the
// shards that do not create the group call it.
func (t *parleyTarget) waitGroup(ctx context.Context, group, owner string, want int) error {
	deadline := time.Now().Add(5 * time.Minute)
	for time.Now().Before(deadline) {
		var g struct {
			Members []json.RawMessage `json:"members"`
		}
		if err := t.get(ctx, owner, "/v1/groups/"+group, &g); err == nil && len(g.Members) >= want+1 {
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(time.Second):
		}
	}
	return fmt.Errorf("wait for group %s: timed out", group)
}

func (t *parleyTarget) post(ctx context.Context, user, path string, body any, want int) error {
	b, _ := json.Marshal(body)
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, t.base+path, bytes.NewReader(b))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+t.token(user))
	return do(t.http, req, want, nil)
}

func (t *parleyTarget) get(ctx context.Context, user, path string, out any) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, t.base+path, nil)
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+t.token(user))
	return do(t.http, req, http.StatusOK, out)
}

// do sends req and checks the status; it reads the whole body so that the
// connection is reused.
func do(hc *http.Client, req *http.Request, want int, out any) error {
	resp, err := hc.Do(req)
	if err != nil {
		return fmt.Errorf("%s %s: %w", req.Method, req.URL.Path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return fmt.Errorf("%s %s: read body: %w", req.Method, req.URL.Path, err)
	}
	if resp.StatusCode != want {
		return fmt.Errorf("%s %s: status %d: %.200s", req.Method, req.URL.Path, resp.StatusCode, b)
	}
	if out != nil {
		if err := json.Unmarshal(b, out); err != nil {
			return fmt.Errorf("%s %s: decode: %w", req.Method, req.URL.Path, err)
		}
	}
	return nil
}

// parallel runs fn for 0..n-1 with at most width at once and returns the
// first error.
func parallel(ctx context.Context, width, n int, fn func(ctx context.Context, i int) error) error {
	var (
		wg    sync.WaitGroup
		mu    sync.Mutex
		first error
	)
	next := make(chan int)
	for range min(width, max(n, 1)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				if err := fn(ctx, i); err != nil {
					mu.Lock()
					if first == nil {
						first = err
					}
					mu.Unlock()
				}
			}
		}()
	}
	for i := range n {
		mu.Lock()
		stop := first != nil
		mu.Unlock()
		if stop || ctx.Err() != nil {
			break
		}
		next <- i
	}
	close(next)
	wg.Wait()
	if first == nil {
		first = ctx.Err()
	}
	return first
}
