package broker

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/parley-chat/parley/internal/parley"
)

// FsyncMode says when the embedded broker's writes reach the disk.
type FsyncMode string

// The fsync modes. See Config.Fsync.
const (
	FsyncOff   FsyncMode = "off"
	FsyncSends FsyncMode = "sends"
	FsyncAll   FsyncMode = "all"
)

// ParseFsyncMode parses an fsync mode as an operator writes it: off, sends
// or all, with true and false as all and off.
func ParseFsyncMode(s string) (FsyncMode, error) {
	switch strings.ToLower(s) {
	case "", "off", "false":
		return FsyncOff, nil
	case "sends":
		return FsyncSends, nil
	case "all", "true":
		return FsyncAll, nil
	}
	return "", fmt.Errorf("fsync mode %q is not off, sends or all", s)
}

// ErrClosed is returned by a sync that starts after the broker closed. It
// wraps parley.ErrUnavailable, so a client is told to retry.
var ErrClosed = fmt.Errorf("broker closed: %w", parley.ErrUnavailable)

// syncInterval is how often FsyncSends syncs the files of every partition,
// for the records that did not come through Parley's own sends (outside
// producers, consumer offsets): they reach the disk at most this long
// after they were acknowledged.
//
// TODO: make outside producers' acknowledgements wait for the fsync too.
// kfake offers no hook between writing a batch and answering the produce,
// so only a send that goes through SyncedLog can wait; docs/limits.md says
// what this means for producers that write to the broker directly.
const syncInterval = 50 * time.Millisecond

// racyWindow is how recently a folder must have changed for its
// modification time to be unable to tell a later change apart. Within
// it, a partition's folder is listed again on every round, so a segment
// file created in the same clock tick as the last listing is not missed.
const racyWindow = 2 * time.Second

// syncer fsyncs kfake's segment files outside kfake, for FsyncSends.
//
// kfake's own SyncWrites fsyncs the segment and index of each partition's
// batch one after another inside its single request loop, which then
// answers no fetch or produce: every send pays for every other's fsyncs.
// The syncer instead lets kfake write to the page cache as it does without
// SyncWrites, and makes the writes durable after the fact, before Parley
// answers the sender: a group commit. Every send that waits joins the next
// round; a round starts after the sends that joined it were acknowledged,
// so it fsyncs their records; one round serves all the sends that arrived
// while the previous one ran, and the partitions of a round are synced in
// parallel.
//
// kfake writes each batch to its segment file with a plain write before it
// acknowledges the produce, so the data is in the page cache by then, and
// an fsync of the same file through another descriptor makes it durable.
// The syncer finds the files by kfake's layout of its data folder:
// partitions/<escaped topic>-<partition>/<base offset>.dat and .idx, the
// newest base being the active segment. When a folder's modification time
// changes (a segment rolled, a file was rewritten), it lists the folder
// again, fsyncs the files it held open before, the new ones and the folder.
type syncer struct {
	dir      string // kfake's data folder
	log      *slog.Logger
	syncFile func(*os.File) error // (*os.File).Sync; tests observe it
	now      func() time.Time
	interval time.Duration // of the rounds over every partition

	wake chan struct{} // capacity 1: a round is wanted
	stop chan struct{}
	done chan struct{}

	// mu guards next, closed and folders (the escaped topic names).
	mu      sync.Mutex
	next    *syncRound
	closed  bool
	folders map[string]string

	parts    map[string]*partFiles // owned by run
	loggedAt time.Time             // of the last fsync error; owned by run
	rounds   atomic.Int64          // rounds run, for tests
	joined   atomic.Int64          // sync calls that joined a round, for tests
}

// syncRound is the set of partitions one round fsyncs, and its outcome
// for the sends waiting on it.
type syncRound struct {
	parts map[string]struct{} // partition folder names
	done  chan struct{}       // closed when the round is over
	err   error               // set before done closes
}

func newSyncRound() *syncRound {
	return &syncRound{parts: map[string]struct{}{}, done: make(chan struct{})}
}

func newSyncer(dir string, log *slog.Logger) *syncer {
	return &syncer{
		dir:      dir,
		log:      log,
		syncFile: (*os.File).Sync,
		now:      time.Now,
		interval: syncInterval,
		wake:     make(chan struct{}, 1),
		stop:     make(chan struct{}),
		done:     make(chan struct{}),
		next:     newSyncRound(),
		folders:  map[string]string{},
		parts:    map[string]*partFiles{},
	}
}

// start runs the syncer's loop until close.
func (s *syncer) start() { go s.run() }

// sync returns once the files of every partition recs were written to have
// been fsynced by a round that started after sync was called. recs must
// have been acknowledged by the broker (their Partition is set).
func (s *syncer) sync(ctx context.Context, recs []*parley.Record) error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return ErrClosed
	}
	r := s.next
	for _, rec := range recs {
		r.parts[s.folderLocked(rec.Topic, rec.Partition)] = struct{}{}
	}
	s.mu.Unlock()
	s.joined.Add(1)

	select {
	case s.wake <- struct{}{}:
	default: // a round is already wanted; it will take this one's parts
	}
	select {
	case <-r.done:
		if r.err != nil {
			// The record is in the broker but maybe not on disk: the
			// sender should retry, with its client ID.
			return fmt.Errorf("fsync broker files: %w: %w", parley.ErrUnavailable, r.err)
		}
		return nil
	case <-ctx.Done():
		return fmt.Errorf("wait for fsync: %w", ctx.Err())
	}
}

// folderLocked returns the name of a partition's folder, as kfake names
// it. The escaped topic names are kept: escaping allocates.
func (s *syncer) folderLocked(topic string, partition int32) string {
	esc, ok := s.folders[topic]
	if !ok {
		esc = url.PathEscape(topic)
		s.folders[topic] = esc
	}
	return esc + "-" + strconv.Itoa(int(partition))
}

// close runs a last round over every partition, answers the sends still
// waiting, and stops the loop. The broker calls it after kfake closed.
func (s *syncer) close() {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return
	}
	s.closed = true
	s.mu.Unlock()
	close(s.stop)
	<-s.done
}

func (s *syncer) run() {
	defer close(s.done)
	tick := time.NewTicker(s.interval)
	defer tick.Stop()
	for {
		all := false
		select {
		case <-s.wake:
		case <-tick.C:
			all = true
		case <-s.stop:
			s.round(true)
			for _, p := range s.parts {
				p.closeFiles()
			}
			return
		}
		s.round(all)
	}
}

// round fsyncs the partitions the waiting sends wrote to, or with all
// every partition and kfake's own logs, and answers the sends.
func (s *syncer) round(all bool) {
	s.mu.Lock()
	r := s.next
	s.next = newSyncRound()
	s.mu.Unlock()

	s.rounds.Add(1)
	r.err = s.syncParts(r.parts, all)
	if r.err != nil {
		// A failing disk fails every round: log once a second, not once
		// a round.
		if now := s.now(); now.Sub(s.loggedAt) >= time.Second {
			s.log.Error("fsync failed", "err", r.err)
			s.loggedAt = now
		}
	}
	close(r.done)
}

func (s *syncer) syncParts(names map[string]struct{}, all bool) error {
	var errs []error
	if all {
		// TODO: skip the partitions nobody wrote to since the last round.
		// Listing and fsyncing every partition is a few system calls each,
		// nothing for the default topics, but thousands of dedicated group
		// topics would cost CPU every 50 ms even while idle.
		entries, err := os.ReadDir(filepath.Join(s.dir, "partitions"))
		if err != nil && !errors.Is(err, fs.ErrNotExist) {
			errs = append(errs, fmt.Errorf("list partitions: %w", err))
		}
		for _, e := range entries {
			if e.IsDir() {
				names[e.Name()] = struct{}{}
			}
		}
		// kfake's logs of consumer offsets and producer IDs.
		for _, name := range []string{"groups.log", "pids.log"} {
			if err := s.syncPath(filepath.Join(s.dir, name)); err != nil {
				errs = append(errs, err)
			}
		}
	}

	parts := make([]*partFiles, 0, len(names))
	for name := range names {
		p := s.parts[name]
		if p == nil {
			p = &partFiles{dir: filepath.Join(s.dir, "partitions", name), s: s}
			s.parts[name] = p
		}
		parts = append(parts, p)
	}
	partErrs := make([]error, len(parts))
	var wg sync.WaitGroup
	for i, p := range parts {
		wg.Go(func() { partErrs[i] = p.sync() })
	}
	wg.Wait()

	for i, p := range parts {
		if p.gone {
			delete(s.parts, filepath.Base(p.dir))
		}
		errs = append(errs, partErrs[i])
	}
	return errors.Join(errs...)
}

// syncPath fsyncs the file at path, if there is one.
func (s *syncer) syncPath(path string) error {
	f, err := os.Open(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("open %s: %w", path, err)
	}
	defer f.Close()
	if err := s.syncFile(f); err != nil {
		return fmt.Errorf("fsync %s: %w", path, err)
	}
	return nil
}

// partFiles is what the syncer holds open of one partition's folder: the
// active segment and its index. Only one goroutine of a round uses it.
type partFiles struct {
	dir string
	s   *syncer

	seg, idx *os.File
	base     int64     // base offset of seg
	dirTime  time.Time // the folder's modification time at the last listing
	unsure   bool      // dirTime is within racyWindow of the listing
	gone     bool      // the folder no longer exists (topic deleted)
}

func (p *partFiles) sync() error {
	fi, err := os.Stat(p.dir)
	if errors.Is(err, fs.ErrNotExist) {
		p.closeFiles()
		p.gone = true
		return nil
	}
	if err != nil {
		return fmt.Errorf("stat %s: %w", p.dir, err)
	}
	if p.seg == nil || p.unsure || !fi.ModTime().Equal(p.dirTime) {
		if err := p.relist(fi.ModTime()); err != nil {
			return err
		}
	}
	return p.syncOpen()
}

// syncOpen fsyncs the segment and index held open, if any.
func (p *partFiles) syncOpen() error {
	var errs []error
	for _, f := range []*os.File{p.seg, p.idx} {
		if f == nil {
			continue
		}
		if err := p.s.syncFile(f); err != nil {
			errs = append(errs, fmt.Errorf("fsync %s: %w", f.Name(), err))
		}
	}
	return errors.Join(errs...)
}

// relist finds the folder's active segment. When it is not the file held
// open, the old files are synced first (kfake closes a rolled segment
// without syncing it), then the new ones are opened and the folder itself
// is synced, so the new files' entries are durable too.
func (p *partFiles) relist(modTime time.Time) error {
	entries, err := os.ReadDir(p.dir)
	if err != nil {
		return fmt.Errorf("list %s: %w", p.dir, err)
	}
	base := int64(-1)
	for _, e := range entries {
		name, ok := strings.CutSuffix(e.Name(), ".dat")
		if !ok {
			continue
		}
		if b, err := strconv.ParseInt(name, 10, 64); err == nil && b > base {
			base = b
		}
	}
	p.dirTime = modTime
	p.unsure = p.s.now().Sub(modTime) < racyWindow
	if base < 0 {
		return nil // kfake has created the folder but no segment yet
	}

	// The files held are still the active ones, unless the index was
	// missing when they were opened (kfake creates it just after the
	// segment).
	prefix := filepath.Join(p.dir, strconv.FormatInt(base, 10))
	if base == p.base && p.seg != nil && p.idx != nil && p.holds(prefix+".dat") {
		return nil
	}

	errs := []error{p.syncOpen()}
	p.closeFiles()
	if p.seg, err = os.Open(prefix + ".dat"); err != nil {
		errs = append(errs, fmt.Errorf("open segment: %w", err))
	}
	if p.idx, err = os.Open(prefix + ".idx"); err != nil && !errors.Is(err, fs.ErrNotExist) {
		errs = append(errs, fmt.Errorf("open segment index: %w", err))
	}
	p.base = base
	errs = append(errs, p.s.syncPath(p.dir), p.s.syncPath(filepath.Dir(p.dir)))
	return errors.Join(errs...)
}

// holds reports whether the segment held open is the file at path, not
// one kfake has since put in its place.
func (p *partFiles) holds(path string) bool {
	held, err := p.seg.Stat()
	if err != nil {
		return false
	}
	cur, err := os.Stat(path)
	return err == nil && os.SameFile(held, cur)
}

func (p *partFiles) closeFiles() {
	for _, f := range []*os.File{p.seg, p.idx} {
		if f != nil {
			_ = f.Close()
		}
	}
	p.seg, p.idx = nil, nil
}
