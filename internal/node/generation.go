package node

import (
	"context"
	"fmt"

	"github.com/parley-chat/parley/internal/parley"
)

// LoadSeqGeneration reads the store's Seq generation (see parley.SeqOf),
// which every Seq this node computes carries. Call it at start-up, before
// the tail and the archiver run; sends and archiving load it themselves
// when it was not loaded yet.
func (s *Service) LoadSeqGeneration(ctx context.Context) error {
	_, err := s.generation(ctx)
	return err
}

// generation returns the Seq generation, loading it once.
func (s *Service) generation(ctx context.Context) (int, error) {
	if s.genLoaded.Load() {
		return int(s.gen.Load()), nil
	}
	g, err := s.store.SeqGeneration(ctx)
	if err != nil {
		return 0, fmt.Errorf("load seq generation: %w", err)
	}
	s.gen.Store(int64(g))
	s.genLoaded.Store(true)
	if g > 0 {
		s.logger.Info("seq generation loaded", "generation", g)
	}
	return g, nil
}

// decode decodes a record and puts its entry's Seq in the store's
// generation. The dispatcher, which must not wait, passes loaded=false to
// use the generation known so far.
func (s *Service) decode(ctx context.Context, rec *parley.Record, load bool) (parley.Decoded, error) {
	dec, err := s.codec.Decode(rec)
	if err != nil || dec.Message == nil {
		return dec, err
	}
	g := int(s.gen.Load())
	if load {
		if g, err = s.generation(ctx); err != nil {
			return parley.Decoded{}, err
		}
	}
	dec.Message.Seq = parley.WithGeneration(dec.Message.Seq, g)
	return dec, nil
}
