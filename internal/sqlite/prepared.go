package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"sync"
)

// readStmts prepares each read query once, on first use: parsing SQL cost
// more than running it on the hot paths (a send's idempotency check, a
// group's membership).
type readStmts struct {
	db *sql.DB

	// mu guards m.
	mu sync.Mutex
	m  map[string]*sql.Stmt
}

func (p *readStmts) get(ctx context.Context, q string) (*sql.Stmt, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if st, ok := p.m[q]; ok {
		return st, nil
	}
	st, err := p.db.PrepareContext(ctx, q)
	if err != nil {
		return nil, err
	}
	if p.m == nil {
		p.m = map[string]*sql.Stmt{}
	}
	p.m[q] = st
	return st, nil
}

func (p *readStmts) close() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	var errs []error
	for _, st := range p.m {
		errs = append(errs, st.Close())
	}
	p.m = nil
	return errors.Join(errs...)
}

// queryRow runs a read query that returns at most one row.
func (s *Store) queryRow(ctx context.Context, q string, args ...any) *sql.Row {
	st, err := s.reads.get(ctx, q)
	if err != nil {
		// The same error then surfaces from Scan.
		return s.r.QueryRowContext(ctx, q, args...)
	}
	return st.QueryRowContext(ctx, args...)
}

// query runs a read query.
func (s *Store) query(ctx context.Context, q string, args ...any) (*sql.Rows, error) {
	st, err := s.reads.get(ctx, q)
	if err != nil {
		return nil, err
	}
	return st.QueryContext(ctx, args...)
}
