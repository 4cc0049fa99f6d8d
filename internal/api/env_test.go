package api

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"go.uber.org/goleak"

	"github.com/parley-chat/parley/internal/broker"
	"github.com/parley-chat/parley/internal/hub"
	"github.com/parley-chat/parley/internal/kafka"
	"github.com/parley-chat/parley/internal/node"
	"github.com/parley-chat/parley/internal/parley"
	"github.com/parley-chat/parley/internal/sqlite"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

const (
	testSecret = "test-secret-0123456789abcdef"
	testAPIKey = "test-api-key"
)

// env is a running API in front of a real node: an embedded broker, a
// SQLite store, the live tail and the archivers, all under t.TempDir().
type env struct {
	t     *testing.T
	srv   *httptest.Server
	api   *Server
	svc   *node.Service
	kafka *kafka.Client
	reg   *prometheus.Registry
}

// envOptions tune newEnv.
type envOptions struct {
	limits hub.Limits
	ping   time.Duration
	admin  bool
}

func testLogger() *slog.Logger {
	if os.Getenv("PARLEY_TEST_LOG") == "" {
		return nil
	}
	return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

func newEnv(t *testing.T, opts envOptions) *env {
	t.Helper()
	dir := t.TempDir()
	ctx := context.Background()
	b, err := broker.Start(ctx, broker.Config{DataDir: filepath.Join(dir, "kafka"), Listen: "127.0.0.1:0"})
	if err != nil {
		t.Fatalf("start broker: %v", err)
	}
	t.Cleanup(func() { b.Close() })
	kc, err := kafka.New(ctx, kafka.Config{Brokers: []string{b.Addr()}, Logger: testLogger()})
	if err != nil {
		t.Fatalf("new kafka client: %v", err)
	}
	t.Cleanup(kc.Close)
	st, err := sqlite.Open(ctx, filepath.Join(dir, "parley.db"), testLogger())
	if err != nil {
		t.Fatalf("open store: %v", err)
	}
	t.Cleanup(func() { st.Close() })

	reg := prometheus.NewRegistry()
	svc := node.New(node.Config{Store: st, Log: kc, Hub: hub.New(opts.limits), Registerer: reg,
		Logger: testLogger()})
	ensureTopics(t, kc, svc)
	runNode(t, kc, svc)

	cfg := Config{Service: svc, Secret: []byte(testSecret), APIKey: testAPIKey, Registry: reg,
		Logger: testLogger(), PingInterval: opts.ping}
	if opts.admin {
		cfg.Admin = kafkaAdmin{kc}
	}
	a, err := New(cfg)
	if err != nil {
		t.Fatalf("new api: %v", err)
	}
	srv := httptest.NewServer(a)
	t.Cleanup(func() {
		sctx, cancel := context.WithTimeout(ctx, 15*time.Second)
		defer cancel()
		if err := a.Shutdown(sctx); err != nil {
			t.Errorf("shutdown: %v", err)
		}
		srv.Close()
	})
	e := &env{t: t, srv: srv, api: a, svc: svc, kafka: kc, reg: reg}
	e.waitReady()
	return e
}

func ensureTopics(t *testing.T, kc *kafka.Client, svc *node.Service) {
	t.Helper()
	var specs []kafka.TopicSpec
	for _, name := range append(svc.TailTopics(), svc.Topics().DeadLetters) {
		specs = append(specs, kafka.TopicSpec{Name: name, Partitions: 3})
	}
	if err := kc.EnsureTopics(context.Background(), specs); err != nil {
		t.Fatalf("ensure topics: %v", err)
	}
}

// runNode runs the live tail and the two consumer groups until the test
// ends.
func runNode(t *testing.T, kc *kafka.Client, svc *node.Service) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Go(func() {
		kc.Tail(ctx, svc.TailTopics(), svc.DispatchStart, func(recs []*parley.Record) { svc.Dispatch(ctx, recs) })
	})
	wg.Go(func() { kc.Consume(ctx, "parley-archiver", svc.ArchiveTopics(), svc.Archive, nil) })
	wg.Go(func() { kc.Consume(ctx, "parley-notifications", svc.NotifyTopics(), svc.Archive, nil) })
	t.Cleanup(func() {
		cancel()
		wg.Wait()
		svc.Close()
	})
}

func (e *env) waitReady() {
	e.t.Helper()
	waitFor(e.t, "readyz", func() bool {
		res, err := http.Get(e.srv.URL + "/readyz")
		if err != nil {
			return false
		}
		res.Body.Close()
		return res.StatusCode == http.StatusOK
	})
}

// waitFor polls cond every 20 ms for up to 15 s.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// response is a decoded HTTP response.
type response struct {
	status int
	header http.Header
	body   []byte
}

func (r response) json(t *testing.T, v any) {
	t.Helper()
	if err := json.Unmarshal(r.body, v); err != nil {
		t.Fatalf("decode %s: %v", r.body, err)
	}
}

// errCode returns the code of an error body.
func (r response) errCode(t *testing.T) string {
	t.Helper()
	var b errorBody
	r.json(t, &b)
	return b.Error.Code
}

// do sends a request with a raw body and an optional bearer token.
func (e *env) do(method, path, token string, body []byte) response {
	e.t.Helper()
	req, err := http.NewRequest(method, e.srv.URL+path, bytes.NewReader(body))
	if err != nil {
		e.t.Fatalf("new request: %v", err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return response{status: res.StatusCode, header: res.Header, body: b}
}

// call sends v as JSON (nil: no body).
func (e *env) call(method, path, token string, v any) response {
	e.t.Helper()
	var body []byte
	if v != nil {
		var err error
		if body, err = json.Marshal(v); err != nil {
			e.t.Fatalf("encode: %v", err)
		}
	}
	return e.do(method, path, token, body)
}

// expect fails the test unless the response has the status.
func expect(t *testing.T, r response, status int) {
	t.Helper()
	if r.status != status {
		t.Fatalf("status %d, want %d: %s", r.status, status, r.body)
	}
}

// register creates a user with a password and returns its token.
func (e *env) register(user string) string {
	e.t.Helper()
	r := e.call("POST", "/v1/auth/register", "", credentials{user, "password123"})
	expect(e.t, r, http.StatusCreated)
	var s session
	r.json(e.t, &s)
	return s.Token
}

// mint signs a token the way an app backend would.
func mint(t *testing.T, claims jwt.Claims) string {
	t.Helper()
	tok, err := jwt.NewWithClaims(jwt.SigningMethodHS256, claims).SignedString([]byte(testSecret))
	if err != nil {
		t.Fatalf("sign: %v", err)
	}
	return tok
}

// sendDM sends a DM over HTTP and returns the message.
func (e *env) sendDM(token, to, body string) parley.Message {
	e.t.Helper()
	r := e.call("POST", "/v1/dm/"+to+"/messages", token, sendBody{Body: body})
	expect(e.t, r, http.StatusCreated)
	var m parley.Message
	r.json(e.t, &m)
	return m
}

// counter returns the value of a counter in the registry.
func (e *env) counter(name string, labels map[string]string) float64 {
	e.t.Helper()
	mfs, err := e.reg.Gather()
	if err != nil {
		e.t.Fatalf("gather: %v", err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.GetMetric() {
			if matches(m.GetLabel(), labels) {
				return m.GetCounter().GetValue()
			}
		}
	}
	return 0
}

func matches(have []*dto.LabelPair, want map[string]string) bool {
	n := 0
	for _, l := range have {
		if v, ok := want[l.GetName()]; ok && v == l.GetValue() {
			n++
		}
	}
	return n == len(want)
}

// kafkaAdmin adapts the Kafka client to TopicAdmin, as the serve command
// does.
type kafkaAdmin struct{ c *kafka.Client }

func (a kafkaAdmin) Topics(ctx context.Context) ([]TopicInfo, error) {
	names, err := a.c.ListTopics(ctx, "")
	if err != nil {
		return nil, err
	}
	ts, err := a.c.DescribeTopics(ctx, names...)
	if err != nil {
		return nil, err
	}
	out := make([]TopicInfo, len(ts))
	for i, t := range ts {
		ret, _ := strconv.ParseInt(t.Configs["retention.ms"], 10, 64)
		out[i] = TopicInfo{Name: t.Name, ReplicationFactor: int(t.ReplicationFactor),
			RetentionMs: ret, Lag: t.Lag}
		for _, p := range t.Partitions {
			out[i].Partitions = append(out[i].Partitions, PartitionInfo{Partition: p.Partition,
				Leader: p.Leader, Replicas: p.Replicas, ISR: p.ISR, Start: p.Start, End: p.End})
		}
	}
	return out, nil
}

func (a kafkaAdmin) UpdateTopic(ctx context.Context, name string, u TopicUpdate) error {
	configs := map[string]string{}
	if u.RetentionMs != nil {
		configs["retention.ms"] = strconv.FormatInt(*u.RetentionMs, 10)
	}
	var parts int32
	if u.Partitions != nil {
		parts = *u.Partitions
	}
	err := a.c.AlterTopic(ctx, name, configs, parts)
	if errors.Is(err, parley.ErrNotFound) {
		return parley.Errorf(parley.ErrNotFound, "topic_not_found", "no topic %q", name)
	}
	return err
}

// nodeForDocs returns a service whose store and log are never used, for
// tests that only build the routes.
func nodeForDocs(t *testing.T) *node.Service {
	t.Helper()
	return node.New(node.Config{})
}
