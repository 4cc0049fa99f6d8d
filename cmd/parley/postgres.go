package main

import (
	"context"
	"fmt"
	"log/slog"

	"github.com/parley-chat/parley/internal/parley"
	"github.com/parley-chat/parley/internal/postgres"
)

// openPostgres opens the PostgreSQL store. It returns without the database
// when the server cannot be reached: the node then starts and reports
// itself not ready until the server answers (see package postgres).
func openPostgres(ctx context.Context, url string, logger *slog.Logger) (parley.Store, error) {
	st, err := postgres.Open(ctx, url, logger)
	if err != nil {
		return nil, fmt.Errorf("open PostgreSQL: %w", err)
	}
	return st, nil
}
