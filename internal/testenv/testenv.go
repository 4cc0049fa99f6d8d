// Package testenv lets a test ask for what lies outside the Go toolchain: a
// command-line tool such as kcat, a real Apache Kafka cluster, a PostgreSQL
// server, a Chromium browser.
//
// Each helper returns what the test needs or stops the test. By default a
// missing tool or service skips the test with the reason, so that `go test
// ./...` passes on a laptop that has none of them. When the environment
// variable PARLEY_REQUIRE_ALL is 1, as CI sets it, a missing tool or service
// fails the test instead: there, a skip would hide a suite that never ran.
//
// Services are found through environment variables that .ci/run exports
// after starting them with scripts/kafka-cluster.sh and scripts/postgres.sh:
// PARLEY_TEST_KAFKA (comma-separated bootstrap brokers),
// PARLEY_TEST_POSTGRES (a connection URL) and PARLEY_CHROMIUM (the browser's
// path). To run those suites locally, start the services the same way and
// export the same variables.
package testenv

import (
	"fmt"
	"net"
	"net/url"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// Environment variables read by this package.
const (
	// RequireAllEnv, when "1", turns every skip for a missing tool or
	// service into a failure.
	RequireAllEnv = "PARLEY_REQUIRE_ALL"
	// KafkaEnv holds the bootstrap brokers of a real Kafka cluster, such as
	// "127.0.0.1:19092,127.0.0.1:19093,127.0.0.1:19094".
	KafkaEnv = "PARLEY_TEST_KAFKA"
	// PostgresEnv holds a PostgreSQL connection URL.
	PostgresEnv = "PARLEY_TEST_POSTGRES"
	// ChromiumEnv holds the path of a Chromium or Chrome executable.
	ChromiumEnv = "PARLEY_CHROMIUM"
)

// dialTimeout bounds the reachability check of a service's address.
const dialTimeout = 3 * time.Second

// chromiumNames are the executables Chromium tries when ChromiumEnv is empty.
var chromiumNames = []string{"chromium", "chromium-browser", "google-chrome"}

// RequireAll reports whether missing tools and services fail tests rather
// than skip them.
func RequireAll() bool {
	return os.Getenv(RequireAllEnv) == "1"
}

// Require stops the test unless ok: it skips with a message naming what is
// missing, or fails when RequireAll is set. what reads as a noun phrase, such
// as "kcat in PATH".
func Require(t testing.TB, what string, ok bool) {
	t.Helper()
	if ok {
		return
	}
	if RequireAll() {
		t.Fatalf("missing %s (required: %s=1)", what, RequireAllEnv)
	}
	t.Skipf("missing %s (set %s=1 to fail instead)", what, RequireAllEnv)
}

// LookTool returns the path of the named executable from PATH, or stops the
// test as Require does.
func LookTool(t testing.TB, name string) string {
	t.Helper()
	path, err := exec.LookPath(name)
	Require(t, name+" in PATH", err == nil)
	return path
}

// KafkaBrokers returns the bootstrap brokers in KafkaEnv. It stops the test
// as Require does when the variable is empty, and fails it when none of the
// brokers accepts a TCP connection, since then the variable is wrong rather
// than absent.
func KafkaBrokers(t testing.TB) []string {
	t.Helper()
	brokers := splitList(os.Getenv(KafkaEnv))
	Require(t, "a Kafka cluster ("+KafkaEnv+")", len(brokers) > 0)

	var errs []string
	for _, b := range brokers {
		err := dial(b)
		if err == nil {
			return brokers
		}
		errs = append(errs, err.Error())
	}
	t.Fatalf("%s=%s: no broker reachable: %s", KafkaEnv, os.Getenv(KafkaEnv),
		strings.Join(errs, "; "))
	return nil
}

// PostgresURL returns the connection URL in PostgresEnv. It stops the test as
// Require does when the variable is empty, and fails it when the URL does
// not parse or its server does not accept a TCP connection.
func PostgresURL(t testing.TB) string {
	t.Helper()
	raw := strings.TrimSpace(os.Getenv(PostgresEnv))
	Require(t, "a PostgreSQL server ("+PostgresEnv+")", raw != "")

	addr, err := postgresAddr(raw)
	if err != nil {
		t.Fatalf("%s: %v", PostgresEnv, err)
	}
	if err := dial(addr); err != nil {
		t.Fatalf("%s: server not reachable: %v", PostgresEnv, err)
	}
	return raw
}

// Chromium returns the path of a Chromium executable: ChromiumEnv when set
// (which must then name an executable file), else the first of chromium,
// chromium-browser and google-chrome found in PATH. It stops the test as
// Require does when there is none.
func Chromium(t testing.TB) string {
	t.Helper()
	if path := strings.TrimSpace(os.Getenv(ChromiumEnv)); path != "" {
		Require(t, "Chromium at "+path+" ("+ChromiumEnv+")", isExecutable(path))
		return path
	}
	for _, name := range chromiumNames {
		if path, err := exec.LookPath(name); err == nil {
			return path
		}
	}
	Require(t, "Chromium ("+ChromiumEnv+" or chromium in PATH)", false)
	return ""
}

// splitList splits a comma-separated list, dropping blanks.
func splitList(s string) []string {
	var out []string
	for _, part := range strings.Split(s, ",") {
		if part = strings.TrimSpace(part); part != "" {
			out = append(out, part)
		}
	}
	return out
}

// postgresAddr returns the host:port that a postgres:// URL points at,
// defaulting to port 5432.
func postgresAddr(raw string) (string, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return "", fmt.Errorf("parse URL: %w", err)
	}
	if u.Scheme != "postgres" && u.Scheme != "postgresql" {
		return "", fmt.Errorf("scheme %q: want postgres", u.Scheme)
	}
	host := u.Hostname()
	if host == "" {
		return "", fmt.Errorf("URL %q names no host", u.Redacted())
	}
	port := u.Port()
	if port == "" {
		port = "5432"
	}
	return net.JoinHostPort(host, port), nil
}

func dial(addr string) error {
	conn, err := net.DialTimeout("tcp", addr, dialTimeout)
	if err != nil {
		return err
	}
	return conn.Close()
}

func isExecutable(path string) bool {
	info, err := os.Stat(path)
	return err == nil && info.Mode().IsRegular() && info.Mode().Perm()&0o111 != 0
}
