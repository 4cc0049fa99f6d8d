package testenv

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
	"time"
)

// scriptTimeout bounds one run of a service script; restarting a Kafka
// broker takes about ten seconds here.
const scriptTimeout = 3 * time.Minute

// The helpers below drive the scripts that started the services, for failure
// tests. They act on the shared services: every test that uses the cluster or
// the database at that moment sees the broker die or the server restart. A
// test that calls them must not run in parallel with others (no t.Parallel),
// and tests in other packages that share the services must tolerate such a
// failure, as Parley's clients should anyway. They need the same
// PARLEY_KAFKA_DIR and PARLEY_PG_DIR as the run that started the services,
// which holds when go test runs under .ci/run.

// KillKafkaBroker sends SIGKILL to broker n (1 to 3) of the cluster that
// scripts/kafka-cluster.sh started.
func KillKafkaBroker(t testing.TB, n int) {
	t.Helper()
	runScript(t, "kafka-cluster.sh", "kill", strconv.Itoa(n))
}

// RestartKafkaBroker kills broker n if it runs, starts it again and returns
// once the cluster lists all three brokers. Its replicas may still be
// catching up when it returns.
func RestartKafkaBroker(t testing.TB, n int) {
	t.Helper()
	runScript(t, "kafka-cluster.sh", "restart", strconv.Itoa(n))
}

// RestartPostgres stops the PostgreSQL server that scripts/postgres.sh
// started (a fast shutdown, which cuts off every client) and starts it again.
func RestartPostgres(t testing.TB) {
	t.Helper()
	runScript(t, "postgres.sh", "restart")
}

// runScript runs scripts/<name> from the module root with args and fails the
// test, showing the script's output, if it fails.
func runScript(t testing.TB, name string, args ...string) {
	t.Helper()
	root, err := moduleRoot()
	if err != nil {
		t.Fatalf("find scripts/%s: %v", name, err)
	}

	ctx, cancel := context.WithTimeout(context.Background(), scriptTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, filepath.Join(root, "scripts", name), args...)
	cmd.Dir = root
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("scripts/%s %v: %v\n%s", name, args, err, out)
	}
	t.Logf("scripts/%s %v:\n%s", name, args, out)
}

// moduleRoot returns the nearest folder at or above the working directory
// that holds go.mod; go test runs each test in its package's folder.
func moduleRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("no go.mod above the working directory")
		}
		dir = parent
	}
}
