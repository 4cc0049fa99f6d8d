package broker

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/parley-chat/parley/internal/kafka"
	"github.com/parley-chat/parley/internal/parley"
)

// fsyncRecorder stands in for (*os.File).Sync: it records the synced
// paths, relative to the data folder, and can hold a round until released.
type fsyncRecorder struct {
	dir string

	mu    sync.Mutex
	paths []string
	gate  chan struct{} // when not nil, each sync waits for it to close
	held  chan struct{} // gets a value each time a sync waits on gate
}

func (r *fsyncRecorder) sync(f *os.File) error {
	r.mu.Lock()
	rel, _ := filepath.Rel(r.dir, f.Name())
	r.paths = append(r.paths, filepath.ToSlash(rel))
	gate, held := r.gate, r.held
	r.mu.Unlock()
	if gate != nil {
		select {
		case held <- struct{}{}:
		default:
		}
		<-gate
	}
	return f.Sync()
}

// count returns how often path was synced.
func (r *fsyncRecorder) count(path string) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	n := 0
	for _, p := range r.paths {
		if p == path {
			n++
		}
	}
	return n
}

func (r *fsyncRecorder) synced() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.paths)
}

// syncFixture is an embedded broker with a data folder, a client and a
// syncer over the folder whose fsyncs are recorded. The syncer's loop is
// not started: tests run rounds themselves or start it.
type syncFixture struct {
	dir    string
	client *kafka.Client
	s      *syncer
	rec    *fsyncRecorder
}

func newSyncFixture(t *testing.T, topics ...kafka.TopicSpec) *syncFixture {
	t.Helper()
	dir := t.TempDir()
	b, err := Start(t.Context(), Config{DataDir: dir, Listen: "127.0.0.1:0"})
	if err != nil {
		t.Fatalf("start broker: %v", err)
	}
	t.Cleanup(func() { b.Close() })
	c, err := kafka.New(t.Context(), kafka.Config{Brokers: []string{b.Addr()}})
	if err != nil {
		t.Fatalf("new client: %v", err)
	}
	t.Cleanup(c.Close)
	if err := c.EnsureTopics(t.Context(), topics); err != nil {
		t.Fatalf("ensure topics: %v", err)
	}

	rec := &fsyncRecorder{dir: dir}
	s := newSyncer(dir, slog.New(slog.DiscardHandler))
	s.syncFile = rec.sync
	s.interval = time.Hour // no rounds over every partition unless asked
	return &syncFixture{dir: dir, client: c, s: s, rec: rec}
}

// produce writes a record to one partition of topic and returns it with
// its partition and offset set. The client partitions by key, so it tries
// keys until one lands there, writing to other partitions on the way.
func (f *syncFixture) produce(t *testing.T, topic string, partition int32) *parley.Record {
	t.Helper()
	for i := range 100 {
		r := &parley.Record{Topic: topic, Key: fmt.Appendf(nil, "k%d", i),
			Value: []byte(strings.Repeat("v", 200))}
		if err := f.client.Produce(t.Context(), r); err != nil {
			t.Fatalf("produce: %v", err)
		}
		if r.Partition == partition {
			return r
		}
	}
	t.Fatalf("no key of 100 went to partition %d", partition)
	return nil
}

// syncAsync calls sync in a goroutine and returns its result channel once
// the call has joined the next round.
func (f *syncFixture) syncAsync(t *testing.T, ctx context.Context, recs ...*parley.Record) <-chan error {
	t.Helper()
	before := f.s.joined.Load()
	done := make(chan error, 1)
	go func() { done <- f.s.sync(ctx, recs) }()
	for range 1000 {
		if f.s.joined.Load() > before {
			return done
		}
		time.Sleep(time.Millisecond)
	}
	t.Fatal("sync did not join a round")
	return nil
}

func TestSyncRoundFsyncsOnlyTheSendersPartition(t *testing.T) {
	f := newSyncFixture(t, kafka.TopicSpec{Name: "dm", Partitions: 3})
	for p := range int32(3) {
		f.produce(t, "dm", p)
	}
	r := f.produce(t, "dm", 1)

	done := f.syncAsync(t, t.Context(), r)
	f.s.round(false)
	if err := <-done; err != nil {
		t.Fatalf("sync: %v", err)
	}

	got := f.rec.synced()
	for _, want := range []string{"partitions/dm-1/0.dat", "partitions/dm-1/0.idx", "partitions/dm-1"} {
		if !slices.Contains(got, want) {
			t.Errorf("synced %v, want %s among them", got, want)
		}
	}
	for _, p := range got {
		if strings.Contains(p, "dm-0") || strings.Contains(p, "dm-2") {
			t.Errorf("synced %s, which the send did not write to", p)
		}
	}
}

// TestSyncWaitsForARoundThatStartedAfterIt checks the group commit's
// invariant: a send that arrives while a round runs may have been written
// after that round's fsync, so it must wait for the next round.
func TestSyncWaitsForARoundThatStartedAfterIt(t *testing.T) {
	f := newSyncFixture(t, kafka.TopicSpec{Name: "dm", Partitions: 1})
	first := f.produce(t, "dm", 0)
	gate := make(chan struct{})
	var release sync.Once
	open := func() {
		release.Do(func() {
			f.rec.mu.Lock()
			close(gate)
			f.rec.gate = nil
			f.rec.mu.Unlock()
		})
	}
	f.rec.gate, f.rec.held = gate, make(chan struct{}, 1)
	f.s.start()
	t.Cleanup(f.s.close)
	t.Cleanup(open) // runs first: a failed test leaves no round blocked

	firstDone := f.syncAsync(t, t.Context(), first)
	<-f.rec.held // the first round is inside an fsync
	second := f.produce(t, "dm", 0)
	secondDone := f.syncAsync(t, t.Context(), second)

	open()
	if err := <-firstDone; err != nil {
		t.Fatalf("first sync: %v", err)
	}
	if err := <-secondDone; err != nil {
		t.Fatalf("second sync: %v", err)
	}
	if n := f.rec.count("partitions/dm-0/0.dat"); n < 2 {
		t.Fatalf("segment synced %d times, want a second round for the later send", n)
	}
}

func TestSyncServesWaitingSendsWithOneRound(t *testing.T) {
	f := newSyncFixture(t, kafka.TopicSpec{Name: "dm", Partitions: 2})
	r0, r1 := f.produce(t, "dm", 0), f.produce(t, "dm", 1)
	const senders = 40
	var dones []<-chan error
	for i := range senders {
		r := r0
		if i%2 == 1 {
			r = r1
		}
		dones = append(dones, f.syncAsync(t, t.Context(), r))
	}

	f.s.round(false)
	for i, d := range dones {
		if err := <-d; err != nil {
			t.Fatalf("sync %d: %v", i, err)
		}
	}
	for _, p := range []string{"partitions/dm-0/0.dat", "partitions/dm-1/0.dat"} {
		if n := f.rec.count(p); n != 1 {
			t.Errorf("%s synced %d times for %d waiting sends, want once", p, n, senders)
		}
	}
}

func TestSyncFollowsARolledSegment(t *testing.T) {
	f := newSyncFixture(t, kafka.TopicSpec{Name: "dm", Partitions: 1,
		Configs: map[string]string{"segment.bytes": "1024"}})
	// The folder's time is old news to this syncer, so only a change of
	// it makes the syncer list the folder again.
	f.s.now = func() time.Time { return time.Now().Add(time.Hour) }
	r := f.produce(t, "dm", 0)
	done := f.syncAsync(t, t.Context(), r)
	f.s.round(false)
	if err := <-done; err != nil {
		t.Fatalf("sync: %v", err)
	}

	// Past the file system's timestamp granularity, then enough records
	// to fill the first segment and start another.
	time.Sleep(50 * time.Millisecond)
	for range 12 {
		r = f.produce(t, "dm", 0)
	}
	done = f.syncAsync(t, t.Context(), r)
	f.s.round(false)
	if err := <-done; err != nil {
		t.Fatalf("sync: %v", err)
	}

	entries, err := os.ReadDir(filepath.Join(f.dir, "partitions", "dm-0"))
	if err != nil {
		t.Fatal(err)
	}
	var segs []string
	for _, e := range entries {
		if strings.HasSuffix(e.Name(), ".dat") {
			segs = append(segs, e.Name())
		}
	}
	if len(segs) < 2 {
		t.Fatalf("segments %v: the test needs a rolled segment", segs)
	}
	newest := fmt.Sprintf("partitions/dm-0/%d.dat", f.s.parts["dm-0"].base)
	if f.s.parts["dm-0"].base == 0 || f.rec.count(newest) == 0 {
		t.Errorf("synced %v, want the newest segment %s", f.rec.synced(), newest)
	}
	if n := f.rec.count("partitions/dm-0/0.dat"); n != 2 {
		t.Errorf("first segment synced %d times, want twice (once more as it rolled)", n)
	}
}

// TestSyncOpensAnIndexCreatedAfterItsSegment covers kfake creating a
// segment's index just after the segment: a listing between the two must
// not leave the index unsynced from then on.
func TestSyncOpensAnIndexCreatedAfterItsSegment(t *testing.T) {
	dir := t.TempDir()
	part := filepath.Join(dir, "partitions", "dm-0")
	if err := os.MkdirAll(part, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(part, "0.dat"), []byte("batch"), 0o644); err != nil {
		t.Fatal(err)
	}
	rec := &fsyncRecorder{dir: dir}
	s := newSyncer(dir, slog.New(slog.DiscardHandler))
	s.syncFile = rec.sync
	round := func() {
		t.Helper()
		if err := s.syncParts(map[string]struct{}{"dm-0": {}}, false); err != nil {
			t.Fatalf("sync: %v", err)
		}
	}

	round()
	if err := os.WriteFile(filepath.Join(part, "0.idx"), []byte("index"), 0o644); err != nil {
		t.Fatal(err)
	}
	round()
	if rec.count("partitions/dm-0/0.idx") == 0 {
		t.Fatalf("synced %v, want the index once it exists", rec.synced())
	}
	s.parts["dm-0"].closeFiles()
}

func TestSyncFailureAsksForARetry(t *testing.T) {
	f := newSyncFixture(t, kafka.TopicSpec{Name: "dm", Partitions: 1})
	r := f.produce(t, "dm", 0)
	f.s.syncFile = func(*os.File) error { return errors.New("input/output error") }
	done := f.syncAsync(t, t.Context(), r)
	f.s.round(false)
	err := <-done
	if !errors.Is(err, parley.ErrUnavailable) || !strings.Contains(err.Error(), "input/output error") {
		t.Fatalf("sync = %v, want ErrUnavailable with the fsync's error", err)
	}
}

func TestSyncCancelledWhileWaiting(t *testing.T) {
	f := newSyncFixture(t, kafka.TopicSpec{Name: "dm", Partitions: 1})
	r := f.produce(t, "dm", 0)
	ctx, cancel := context.WithCancel(t.Context())
	done := f.syncAsync(t, ctx, r)
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Fatalf("sync = %v, want context.Canceled", err)
	}
}

func TestSyncAfterCloseFails(t *testing.T) {
	f := newSyncFixture(t, kafka.TopicSpec{Name: "dm", Partitions: 1})
	r := f.produce(t, "dm", 0)
	f.s.start()
	f.s.close()
	if err := f.s.sync(t.Context(), []*parley.Record{r}); !errors.Is(err, ErrClosed) {
		t.Fatalf("sync after close = %v, want ErrClosed", err)
	}
	if f.rec.count("partitions/dm-0/0.dat") != 1 {
		t.Errorf("synced %v, want the last round at close to sync every partition", f.rec.synced())
	}
}

func TestSyncedLog(t *testing.T) {
	t.Run("is the log itself unless sends are synced", func(t *testing.T) {
		for _, mode := range []FsyncMode{FsyncOff, FsyncAll} {
			b, err := Start(t.Context(), Config{DataDir: t.TempDir(), Listen: "127.0.0.1:0", Fsync: mode})
			if err != nil {
				t.Fatal(err)
			}
			c, err := kafka.New(t.Context(), kafka.Config{Brokers: []string{b.Addr()}})
			if err != nil {
				t.Fatal(err)
			}
			if got := b.SyncedLog(c); got != parley.Log(c) {
				t.Errorf("mode %s: SyncedLog wrapped the log", mode)
			}
			c.Close()
			b.Close()
		}
	})
	t.Run("produces and syncs with sends", func(t *testing.T) {
		dir := t.TempDir()
		b, err := Start(t.Context(), Config{DataDir: dir, Listen: "127.0.0.1:0", Fsync: FsyncSends})
		if err != nil {
			t.Fatal(err)
		}
		defer b.Close()
		c, err := kafka.New(t.Context(), kafka.Config{Brokers: []string{b.Addr()}})
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		if err := c.EnsureTopics(t.Context(), []kafka.TopicSpec{{Name: "dm", Partitions: 2}}); err != nil {
			t.Fatal(err)
		}
		log := b.SyncedLog(c)
		r := &parley.Record{Topic: "dm", Key: []byte("dm:a:b"), Value: []byte("hi")}
		if err := log.Produce(t.Context(), r); err != nil {
			t.Fatalf("produce: %v", err)
		}
		if b.syncer.rounds.Load() == 0 {
			t.Error("produce returned without an fsync round")
		}
	})
}
