package sqlite

import (
	"context"
	"fmt"
)

// SeqGeneration returns the store's Seq generation.
func (s *Store) SeqGeneration(ctx context.Context) (int, error) {
	var g int
	if err := s.queryRow(ctx, `SELECT generation FROM seq_generation`).Scan(&g); err != nil {
		return 0, fmt.Errorf("read seq generation: %w", err)
	}
	return g, nil
}

// SetSeqGeneration raises the Seq generation to g; a lower g changes
// nothing.
func (s *Store) SetSeqGeneration(ctx context.Context, g int) error {
	const q = `UPDATE seq_generation SET generation = ? WHERE generation < ?`
	if _, err := s.w.ExecContext(ctx, q, g, g); err != nil {
		return fmt.Errorf("set seq generation: %w", err)
	}
	return nil
}
