package postgres

import (
	"context"
	"fmt"
)

// SeqGeneration returns the store's Seq generation.
func (s *Store) SeqGeneration(ctx context.Context) (int, error) {
	var g int
	if err := s.pool.QueryRow(ctx, `SELECT generation FROM seq_generation`).Scan(&g); err != nil {
		return 0, fmt.Errorf("read seq generation: %w", err)
	}
	return g, nil
}

// SetSeqGeneration raises the Seq generation to g; a lower g changes
// nothing.
func (s *Store) SetSeqGeneration(ctx context.Context, g int) error {
	const q = `UPDATE seq_generation SET generation = $1 WHERE generation < $1`
	if _, err := s.pool.Exec(ctx, q, g); err != nil {
		return fmt.Errorf("set seq generation: %w", err)
	}
	return nil
}
