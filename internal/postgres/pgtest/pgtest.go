// Package pgtest gives a test that needs PostgreSQL outside package
// postgres a database of its own: a fresh schema in the server of
// testenv.PostgresURL, dropped when the test ends. It keeps pgx inside the
// postgres tree.
package pgtest

import (
	"context"
	"crypto/rand"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/parley-chat/parley/internal/testenv"
)

// FreshURL creates a schema of its own for the test and returns a URL
// whose connections work in it. It stops the test as testenv.PostgresURL
// does when there is no server.
func FreshURL(t testing.TB) string {
	t.Helper()
	base := testenv.PostgresURL(t)
	schema := "t_" + strings.ToLower(rand.Text())
	exec(t, base, "CREATE SCHEMA "+schema)
	t.Cleanup(func() { exec(t, base, "DROP SCHEMA "+schema+" CASCADE") })

	u, err := url.Parse(base)
	if err != nil {
		t.Fatalf("parse %s: %v", testenv.PostgresEnv, err)
	}
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	return u.String()
}

// exec runs one statement on a connection of its own. It does not use
// t.Context, which is done by the time cleanups run.
func exec(t testing.TB, url, sql string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatalf("connect: %v", err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, sql); err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
}
