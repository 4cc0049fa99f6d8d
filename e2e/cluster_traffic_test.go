package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// sender describes one stream of messages a traffic run posts: from a
// user to one conversation, through nodes[0] and then, after a failure,
// through the next node of the list, as a client behind a load balancer
// would.
type sender struct {
	from   *User
	path   string // the POST path, such as /v1/dm/bob/messages
	prefix string // bodies are "<prefix> <n>", client IDs "<prefix>-<n>"
	nodes  []*Server
}

// traffic posts messages from several senders at once until stopped, and
// keeps what the nodes acknowledged. A send that fails is retried with
// the same client ID, so an acknowledged retry must yield one message
// however many attempts reached a node.
type traffic struct {
	stop chan struct{}
	wg   sync.WaitGroup

	// mu guards the fields below.
	mu         sync.Mutex
	phase      string
	acked      map[string]map[string]Message // by prefix, then message ID
	phaseAcks  map[string]int                // acknowledgements per phase
	failures   map[string]int                // failed attempts per phase
	samples    []string                      // the first failures, for the log
	unacked    int                           // sends given up after every attempt
	lastAck    map[string]time.Time          // by prefix
	maxGap     map[string]time.Duration      // longest wait between two acks, by prefix
	senderAcks map[string]map[string]int     // by phase, then prefix
}

// Traffic tuning: each sender posts about one message per sendInterval,
// and gives a message up after sendAttempts failures.
const (
	sendInterval = 40 * time.Millisecond
	sendAttempts = 8
	retryPause   = 250 * time.Millisecond
	sendTimeout  = 15 * time.Second
)

// startTraffic starts one goroutine per sender.
func startTraffic(senders ...sender) *traffic {
	tr := &traffic{stop: make(chan struct{}), phase: "before", acked: map[string]map[string]Message{},
		phaseAcks: map[string]int{}, failures: map[string]int{}, lastAck: map[string]time.Time{},
		maxGap: map[string]time.Duration{}, senderAcks: map[string]map[string]int{}}
	now := time.Now()
	for _, s := range senders {
		tr.acked[s.prefix] = map[string]Message{}
		tr.lastAck[s.prefix] = now
		tr.wg.Go(func() { tr.run(s) })
	}
	return tr
}

// setPhase names what happens from now on, for the counts in the log.
func (tr *traffic) setPhase(p string) {
	tr.mu.Lock()
	defer tr.mu.Unlock()
	tr.phase = p
}

// Stop stops the senders and waits for them; each finishes the message
// it is sending.
func (tr *traffic) Stop() {
	select {
	case <-tr.stop:
	default:
		close(tr.stop)
	}
	tr.wg.Wait()
}

func (tr *traffic) run(s sender) {
	node := 0
	for i := 0; ; i++ {
		select {
		case <-tr.stop:
			return
		case <-time.After(sendInterval):
		}
		in := map[string]string{"body": fmt.Sprintf("%s %d", s.prefix, i),
			"client_id": fmt.Sprintf("%s-%d", s.prefix, i)}
		acked := false
		for attempt := 0; attempt < sendAttempts && !acked; attempt++ {
			var m Message
			code, err := tryCall(s.nodes[node], s.from.Token, "POST", s.path, in, &m)
			if err == nil && code == http.StatusCreated {
				tr.ack(s.prefix, m)
				acked = true
				break
			}
			tr.fail(fmt.Sprintf("%s via %s: status %d, %v", in["client_id"], s.nodes[node].HTTP, code, err))
			node = (node + 1) % len(s.nodes)
			time.Sleep(retryPause)
		}
		if !acked {
			tr.mu.Lock()
			tr.unacked++
			tr.mu.Unlock()
		}
	}
}

func (tr *traffic) ack(prefix string, m Message) {
	tr.mu.Lock()
	defer tr.mu.Unlock()
	tr.acked[prefix][m.ID] = m
	tr.phaseAcks[tr.phase]++
	if tr.senderAcks[tr.phase] == nil {
		tr.senderAcks[tr.phase] = map[string]int{}
	}
	tr.senderAcks[tr.phase][prefix]++
	now := time.Now()
	tr.maxGap[prefix] = max(tr.maxGap[prefix], now.Sub(tr.lastAck[prefix]))
	tr.lastAck[prefix] = now
}

func (tr *traffic) fail(what string) {
	tr.mu.Lock()
	defer tr.mu.Unlock()
	tr.failures[tr.phase]++
	if len(tr.samples) < 10 {
		tr.samples = append(tr.samples, tr.phase+": "+what)
	}
}

// ids returns the IDs of the acknowledged messages of the senders with
// the given prefixes.
func (tr *traffic) ids(prefixes ...string) map[string]bool {
	tr.mu.Lock()
	defer tr.mu.Unlock()
	out := map[string]bool{}
	for _, p := range prefixes {
		for id := range tr.acked[p] {
			out[id] = true
		}
	}
	return out
}

// acksIn returns how many sends were acknowledged during the phase.
func (tr *traffic) acksIn(phase string) int {
	tr.mu.Lock()
	defer tr.mu.Unlock()
	return tr.phaseAcks[phase]
}

// senderAcksIn returns how many sends of each sender were acknowledged
// during the phase, by prefix.
func (tr *traffic) senderAcksIn(phase string) map[string]int {
	tr.mu.Lock()
	defer tr.mu.Unlock()
	out := map[string]int{}
	for p := range tr.acked {
		out[p] = tr.senderAcks[phase][p]
	}
	return out
}

// report logs the counts per phase.
func (tr *traffic) report(t *testing.T) {
	t.Helper()
	tr.mu.Lock()
	defer tr.mu.Unlock()
	total := 0
	for _, a := range tr.acked {
		total += len(a)
	}
	t.Logf("traffic: %d acknowledged, %d given up; acknowledged per phase %v; failed attempts per phase %v",
		total, tr.unacked, tr.phaseAcks, tr.failures)
	t.Logf("traffic: acknowledged per phase and sender %v; longest wait between two acks per sender %v",
		tr.senderAcks, tr.maxGap)
	for _, s := range tr.samples {
		t.Logf("  failed attempt: %s", s)
	}
}

// tryCall is User.Call without stopping the test, for goroutines and for
// requests that may fail while a part of the cluster is down. It returns
// the status, or an error when no answer came.
func tryCall(s *Server, token, method, path string, in, out any) (int, error) {
	ctx, cancel := context.WithTimeout(context.Background(), sendTimeout)
	defer cancel()
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return 0, err
		}
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, s.HTTP+path, body)
	if err != nil {
		return 0, err
	}
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return resp.StatusCode, err
	}
	if resp.StatusCode >= 300 {
		return resp.StatusCode, fmt.Errorf("%s", bytes.TrimSpace(b))
	}
	if out != nil && len(b) > 0 {
		if err := json.Unmarshal(b, out); err != nil {
			return resp.StatusCode, fmt.Errorf("decode %q: %w", b, err)
		}
	}
	return resp.StatusCode, nil
}

// historyPage bounds the entries fetchHistory asks for at once.
const historyPage = 200

// fetchHistory returns the whole history of a conversation path such as
// "/v1/dm/bob", oldest first. A page without a cursor holds the newest
// entries, so it pages backward with before=.
func fetchHistory(u *User) func(path string) ([]Message, error) {
	return func(path string) ([]Message, error) {
		var pages [][]Message
		before := ""
		for range 1000 {
			q := url.Values{"limit": {strconv.Itoa(historyPage)}}
			if before != "" {
				q.Set("before", before)
			}
			var page struct {
				Messages []Message `json:"messages"`
			}
			code, err := tryCall(u.s, u.Token, "GET", path+"/messages?"+q.Encode(), nil, &page)
			if err != nil || code != http.StatusOK {
				return nil, fmt.Errorf("history %s: status %d: %v", path, code, err)
			}
			pages = append(pages, page.Messages)
			// before=0 would read as no cursor at all: the entry at
			// cursor 0 is the first there can be.
			if len(page.Messages) < historyPage || page.Messages[0].Cursor == "0" {
				var all []Message
				for i := len(pages) - 1; i >= 0; i-- {
					all = append(all, pages[i]...)
				}
				return all, nil
			}
			before = page.Messages[0].Cursor
		}
		return nil, fmt.Errorf("history %s: more than 1000 pages", path)
	}
}

// waitHistoryHolds waits until the conversation's history, read by u,
// holds every ID in want, then checks that it holds no message twice,
// neither by ID nor by body (a body names a client ID, so a repeated body
// is a retried send stored twice). It returns the history.
func waitHistoryHolds(t *testing.T, timeout time.Duration, u *User, path string,
	want map[string]bool,
) []Message {
	t.Helper()
	var h []Message
	var lastErr error
	missing := len(want)
	deadline := time.Now().Add(timeout)
	for {
		h, lastErr = fetchHistory(u)(path)
		if lastErr == nil {
			have := map[string]bool{}
			for _, m := range h {
				have[m.ID] = true
			}
			missing = 0
			for id := range want {
				if !have[id] {
					missing++
				}
			}
			if missing == 0 {
				break
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("history of %s (read by %s on %s) misses %d of %d acknowledged messages "+
				"after %v (last error: %v)",
				path, u.Name, u.s.HTTP, missing, len(want), timeout, lastErr)
		}
		time.Sleep(250 * time.Millisecond)
	}

	ids, bodies := map[string]bool{}, map[string]bool{}
	for _, m := range h {
		if m.Type != "message" {
			continue
		}
		if ids[m.ID] || bodies[m.Body] {
			t.Errorf("history of %s holds %s %q twice", path, m.ID, m.Body)
		}
		ids[m.ID], bodies[m.Body] = true, true
	}
	return h
}

// messageIDs returns the IDs of the entries of type message, in order.
func messageIDs(h []Message) []string {
	var ids []string
	for _, m := range h {
		if m.Type == "message" {
			ids = append(ids, m.ID)
		}
	}
	return ids
}

// archiverLag returns the archiver group's lag on each of the cluster's
// message topics, as node s reports it on /v1/admin/topics.
func (c *Cluster) archiverLag(s *Server) (map[string]int64, error) {
	var out struct {
		Topics []struct {
			Name string           `json:"name"`
			Lag  map[string]int64 `json:"consumer_lag"`
		} `json:"topics"`
	}
	code, err := tryCall(s, s.APIKey, "GET", "/v1/admin/topics", nil, &out)
	if err != nil || code != http.StatusOK {
		return nil, fmt.Errorf("admin topics: status %d: %v", code, err)
	}
	lag := map[string]int64{}
	for _, tp := range out.Topics {
		if tp.Name == c.DMTopic || tp.Name == c.GroupTopic {
			lag[tp.Name] = tp.Lag[c.ArchiverGroup]
		}
	}
	return lag, nil
}

// assignmentRE matches the consumer's log lines about its partitions, as
// slog's text handler writes them:
//
//	msg="partitions assigned" component=kafka group=G partitions="map[t:[1 5] u:[2]]"
var (
	assignmentRE = regexp.MustCompile(
		`msg="partitions (assigned|revoked|lost)" .*\bgroup=(\S+) partitions="?map\[([^"\n]*)\]"?`)
	topicPartsRE = regexp.MustCompile(`(\S+?):\[([0-9 ]*)\]`)
)

// ownedPartitions replays a node's log to find the partitions the node's
// member of group owns now, as "topic/partition".
func ownedPartitions(s *Server, group string) map[string]bool {
	owned := map[string]bool{}
	for _, m := range assignmentRE.FindAllStringSubmatch(s.Output(), -1) {
		if m[2] != group {
			continue
		}
		for _, tp := range topicPartsRE.FindAllStringSubmatch(m[3], -1) {
			for _, p := range strings.Fields(tp[2]) {
				key := tp[1] + "/" + p
				if m[1] == "assigned" {
					owned[key] = true
				} else {
					delete(owned, key)
				}
			}
		}
	}
	return owned
}

// archiverSpread returns the partitions each live node's archiver owns,
// per its log, and whether they split every partition of the message
// topics (want of them) among those nodes with none owned twice and no
// node idle.
func (c *Cluster) archiverSpread(nodes []*Server, want int) ([][]string, bool) {
	var spread [][]string
	seen := map[string]bool{}
	ok := true
	for _, s := range nodes {
		owned := ownedPartitions(s, c.ArchiverGroup)
		var ps []string
		for p := range owned {
			if seen[p] {
				ok = false
			}
			seen[p] = true
			ps = append(ps, p)
		}
		sort.Strings(ps)
		spread = append(spread, ps)
		if len(ps) == 0 {
			ok = false
		}
	}
	return spread, ok && len(seen) == want
}

// waitNoArchiverLag waits until node s reports no archiver lag on the
// message topics: the group committed every record.
func (c *Cluster) waitNoArchiverLag(t *testing.T, timeout time.Duration, s *Server) {
	t.Helper()
	var lag map[string]int64
	var err error
	deadline := time.Now().Add(timeout)
	for {
		lag, err = c.archiverLag(s)
		if err == nil && len(lag) == 2 && lag[c.DMTopic] == 0 && lag[c.GroupTopic] == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("archiver lag still %v (err %v) after %v, though history is complete", lag, err, timeout)
		}
		time.Sleep(250 * time.Millisecond)
	}
}

// groupSettleQuiet is how long a consumer group's members must log
// nothing about it before the group counts as settled.
const groupSettleQuiet = 3 * time.Second

// waitArchiverSettled waits until the archiver's partitions are split
// among nodes and none of them logged anything about the group for
// groupSettleQuiet, which rules out a rebalance in progress. It returns
// the partitions per node.
func (c *Cluster) waitArchiverSettled(t *testing.T, timeout time.Duration, nodes []*Server) [][]string {
	t.Helper()
	var spread [][]string
	lines, since := -1, time.Now()
	waitUntil(t, timeout, "archiver partitions never settled over the nodes", func() bool {
		n := 0
		for _, s := range nodes {
			n += strings.Count(s.Output(), "group="+c.ArchiverGroup)
		}
		if n != lines {
			lines, since = n, time.Now()
		}
		var ok bool
		spread, ok = c.archiverSpread(nodes, messagePartitions)
		return ok && time.Since(since) >= groupSettleQuiet
	})
	return spread
}
