package sqlite

import (
	"context"
	"fmt"
	"hash/maphash"
	"sync"

	"github.com/parley-chat/parley/internal/parley"
)

// Sizing of the message ID filter: bits per message it is sized for, and
// the least number of messages it is sized for.
const (
	filterBitsPerID = 10
	filterMinIDs    = 1 << 20
)

// idFilter answers "may the store hold this message?" without a query:
// a Bloom filter over (conversation, id) of every stored message. It has no
// false negatives and about 1% false positives, which fall through to the
// query. Its point is the lookup of a client ID on every send, which almost
// always finds nothing.
//
// It is built in the background when the store opens and rebuilt, twice
// the size, once it holds more IDs than it was sized for; until a build
// finishes, mayHold answers true. Messages deleted later stay in it, which
// only costs a query.
type idFilter struct {
	seed maphash.Seed

	// mu guards the fields below.
	mu    sync.Mutex
	bits  []uint64
	ids   int  // added since the build started
	sized int  // how many IDs bits is sized for
	ready bool // the build has added every stored ID
	build int  // counts the builds started, for addAgain
	// building is set while a build runs, so only one does.
	building bool
}

func newIDFilter() *idFilter { return &idFilter{seed: maphash.MakeSeed()} }

// positions returns the filter's four bit positions for a message.
func (f *idFilter) positions(conversation, id string, nbits uint64) [4]uint64 {
	var h maphash.Hash
	h.SetSeed(f.seed)
	h.WriteString(conversation)
	h.WriteByte(0)
	h.WriteString(id)
	sum := h.Sum64()
	lo, hi := sum&0xffffffff, sum>>32|1
	var p [4]uint64
	for i := range p {
		p[i] = (lo + uint64(i)*hi) % nbits
	}
	return p
}

// mayHold reports whether the store may hold the message: false means it
// certainly does not.
func (f *idFilter) mayHold(conversation, id string) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	if !f.ready {
		return true
	}
	for _, p := range f.positions(conversation, id, uint64(len(f.bits))*64) {
		if f.bits[p/64]&(1<<(p%64)) == 0 {
			return false
		}
	}
	return true
}

// add records messages the store is about to commit and returns the
// build it added them to, for addAgain.
func (f *idFilter) add(msgs []parley.Message) (build int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.bits != nil { // before the first build, the build reads them
		f.setAllLocked(msgs)
	}
	return f.build
}

// addAgain records committed messages that add gave to an earlier build
// than the current one, which may have scanned the store before they were
// committed. It reports whether the filter has grown past the size it was
// built for and a rebuild must start; it reports that once per build.
func (f *idFilter) addAgain(msgs []parley.Message, build int) (rebuild bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.bits != nil && build != f.build {
		f.setAllLocked(msgs)
	}
	if f.ready && !f.building && f.ids > f.sized {
		f.building = true
		return true
	}
	return false
}

func (f *idFilter) setAllLocked(msgs []parley.Message) {
	for i := range msgs {
		f.setLocked(msgs[i].Conversation, msgs[i].ID)
	}
	f.ids += len(msgs)
}

func (f *idFilter) setLocked(conversation, id string) {
	for _, p := range f.positions(conversation, id, uint64(len(f.bits))*64) {
		f.bits[p/64] |= 1 << (p % 64)
	}
}

// buildIDFilter sizes the filter for twice the stored messages and adds
// every one of them. Messages archived meanwhile are added by add or
// addAgain, to the new bits. The caller has set building.
func (s *Store) buildIDFilter(ctx context.Context) error {
	f := s.ids
	defer func() {
		f.mu.Lock()
		f.building = false
		f.mu.Unlock()
	}()
	var count int
	if err := s.r.QueryRowContext(ctx, `SELECT count(*) FROM messages`).Scan(&count); err != nil {
		return fmt.Errorf("count messages: %w", err)
	}
	f.mu.Lock()
	f.ready = false
	f.sized = max(2*count, filterMinIDs)
	f.bits = make([]uint64, (f.sized*filterBitsPerID+63)/64)
	f.ids = 0
	f.build++
	f.mu.Unlock()

	// The scan starts after the new bits are in place: a message committed
	// before it is read here, one committed after it is added by Archive.
	rows, err := s.r.QueryContext(ctx, `SELECT conversation, id FROM messages`)
	if err != nil {
		return fmt.Errorf("read message ids: %w", err)
	}
	defer rows.Close()
	var conv, id string
	n := 0
	for rows.Next() {
		if err := rows.Scan(&conv, &id); err != nil {
			return fmt.Errorf("read message ids: %w", err)
		}
		f.mu.Lock()
		f.setLocked(conv, id)
		f.mu.Unlock()
		n++
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("read message ids: %w", err)
	}
	f.mu.Lock()
	f.ready = true
	f.ids += n
	f.mu.Unlock()
	s.logger.Debug("message id filter built", "messages", n, "sized_for", f.sized)
	return nil
}

// startIDFilterBuild runs buildIDFilter in the background, logging a
// failure: until a build succeeds, lookups go to the database.
func (s *Store) startIDFilterBuild() {
	s.bg.Go(func() {
		if err := s.buildIDFilter(s.bgCtx); err != nil && s.bgCtx.Err() == nil {
			s.logger.Warn("cannot build the message id filter; client id lookups query the database",
				"err", err)
		}
	})
}
