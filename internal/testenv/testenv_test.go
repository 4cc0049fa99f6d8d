package testenv

import (
	"fmt"
	"net"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"
)

// outcome is how a helper under test ended.
type outcome int

const (
	passed outcome = iota
	skipped
	failed
)

func (o outcome) String() string {
	return [...]string{"passed", "skipped", "failed"}[o]
}

// recorder stands in for the test handed to a helper: it records a skip or
// failure and, like the real thing, ends the goroutine that asked for it.
type recorder struct {
	testing.TB
	result outcome
	msg    string
}

func (r *recorder) Helper() {}

func (r *recorder) Logf(string, ...any) {}

func (r *recorder) Skipf(format string, args ...any) {
	r.result, r.msg = skipped, fmt.Sprintf(format, args...)
	runtime.Goexit()
}

func (r *recorder) Fatalf(format string, args ...any) {
	r.result, r.msg = failed, fmt.Sprintf(format, args...)
	runtime.Goexit()
}

// run calls fn with a recorder on its own goroutine and reports how it ended.
func run(t *testing.T, fn func(tb testing.TB)) *recorder {
	t.Helper()
	r := &recorder{TB: t}
	done := make(chan struct{})
	go func() {
		defer close(done)
		fn(r)
	}()
	<-done
	return r
}

func expect(t *testing.T, r *recorder, want outcome, msgPart string) {
	t.Helper()
	if r.result != want {
		t.Fatalf("outcome %v (%q), want %v", r.result, r.msg, want)
	}
	if !strings.Contains(r.msg, msgPart) {
		t.Fatalf("message %q does not contain %q", r.msg, msgPart)
	}
}

// listen returns the address of a TCP listener that lives as long as the test.
func listen(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	return ln.Addr().String()
}

// closedAddr returns a loopback address where nothing listens.
func closedAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

func TestRequire(t *testing.T) {
	tests := []struct {
		name    string
		env     string
		ok      bool
		want    outcome
		msgPart string
	}{
		{"present passes", "", true, passed, ""},
		{"present passes when required", "1", true, passed, ""},
		{"missing skips", "", false, skipped, "missing the thing"},
		{"missing skips unless exactly 1", "true", false, skipped, RequireAllEnv},
		{"missing fails when required", "1", false, failed, "missing the thing"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Setenv(RequireAllEnv, tt.env)
			r := run(t, func(tb testing.TB) { Require(tb, "the thing", tt.ok) })
			expect(t, r, tt.want, tt.msgPart)
		})
	}
}

func TestLookTool(t *testing.T) {
	t.Run("found returns its path", func(t *testing.T) {
		var path string
		r := run(t, func(tb testing.TB) { path = LookTool(tb, "sh") })
		expect(t, r, passed, "")
		if filepath.Base(path) != "sh" {
			t.Fatalf("path %q, want one ending in sh", path)
		}
	})
	t.Run("missing skips", func(t *testing.T) {
		t.Setenv(RequireAllEnv, "")
		r := run(t, func(tb testing.TB) { LookTool(tb, "parley-no-such-tool") })
		expect(t, r, skipped, "parley-no-such-tool in PATH")
	})
	t.Run("missing fails when required", func(t *testing.T) {
		t.Setenv(RequireAllEnv, "1")
		r := run(t, func(tb testing.TB) { LookTool(tb, "parley-no-such-tool") })
		expect(t, r, failed, "parley-no-such-tool in PATH")
	})
}

func TestKafkaBrokers(t *testing.T) {
	t.Run("unset skips", func(t *testing.T) {
		t.Setenv(RequireAllEnv, "")
		t.Setenv(KafkaEnv, " , ")
		r := run(t, func(tb testing.TB) { KafkaBrokers(tb) })
		expect(t, r, skipped, KafkaEnv)
	})
	t.Run("unset fails when required", func(t *testing.T) {
		t.Setenv(RequireAllEnv, "1")
		t.Setenv(KafkaEnv, "")
		r := run(t, func(tb testing.TB) { KafkaBrokers(tb) })
		expect(t, r, failed, KafkaEnv)
	})
	t.Run("one reachable broker returns the list", func(t *testing.T) {
		down, up := closedAddr(t), listen(t)
		t.Setenv(KafkaEnv, " "+down+", "+up+",")
		var got []string
		r := run(t, func(tb testing.TB) { got = KafkaBrokers(tb) })
		expect(t, r, passed, "")
		if want := []string{down, up}; !slices.Equal(got, want) {
			t.Fatalf("brokers %q, want %q", got, want)
		}
	})
	t.Run("none reachable fails even when not required", func(t *testing.T) {
		t.Setenv(RequireAllEnv, "")
		t.Setenv(KafkaEnv, closedAddr(t))
		r := run(t, func(tb testing.TB) { KafkaBrokers(tb) })
		expect(t, r, failed, "no broker reachable")
	})
}

func TestPostgresURL(t *testing.T) {
	t.Run("unset skips", func(t *testing.T) {
		t.Setenv(RequireAllEnv, "")
		t.Setenv(PostgresEnv, "")
		r := run(t, func(tb testing.TB) { PostgresURL(tb) })
		expect(t, r, skipped, PostgresEnv)
	})
	t.Run("unset fails when required", func(t *testing.T) {
		t.Setenv(RequireAllEnv, "1")
		t.Setenv(PostgresEnv, "")
		r := run(t, func(tb testing.TB) { PostgresURL(tb) })
		expect(t, r, failed, PostgresEnv)
	})
	t.Run("reachable returns the URL", func(t *testing.T) {
		want := "postgres://u:p@" + listen(t) + "/db?sslmode=disable"
		t.Setenv(PostgresEnv, want)
		var got string
		r := run(t, func(tb testing.TB) { got = PostgresURL(tb) })
		expect(t, r, passed, "")
		if got != want {
			t.Fatalf("URL %q, want %q", got, want)
		}
	})
	t.Run("unreachable fails", func(t *testing.T) {
		t.Setenv(RequireAllEnv, "")
		t.Setenv(PostgresEnv, "postgres://u:p@"+closedAddr(t)+"/db")
		r := run(t, func(tb testing.TB) { PostgresURL(tb) })
		expect(t, r, failed, "not reachable")
	})
	t.Run("bad scheme fails", func(t *testing.T) {
		t.Setenv(PostgresEnv, "mysql://u:p@127.0.0.1:1/db")
		r := run(t, func(tb testing.TB) { PostgresURL(tb) })
		expect(t, r, failed, "want postgres")
	})
}

func TestPostgresAddr(t *testing.T) {
	tests := []struct {
		url, want string
	}{
		{"postgres://u:p@127.0.0.1:55432/db?sslmode=disable", "127.0.0.1:55432"},
		{"postgresql://u@db.example/db", "db.example:5432"},
		{"postgres://u@[::1]:6000/db", "[::1]:6000"},
	}
	for _, tt := range tests {
		t.Run(tt.want, func(t *testing.T) {
			got, err := postgresAddr(tt.url)
			if err != nil {
				t.Fatal(err)
			}
			if got != tt.want {
				t.Fatalf("address %q, want %q", got, tt.want)
			}
		})
	}
	for _, bad := range []string{"postgres:///db", "http://127.0.0.1/", "postgres://%zz"} {
		t.Run("rejects "+bad, func(t *testing.T) {
			if _, err := postgresAddr(bad); err == nil {
				t.Fatalf("no error for %q", bad)
			}
		})
	}
}

// writeExecutable makes a file in dir with the given mode and returns its path.
func writeExecutable(t *testing.T, dir, name string, mode os.FileMode) string {
	t.Helper()
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, []byte("#!/bin/sh\n"), mode); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestChromium(t *testing.T) {
	t.Run("variable naming an executable wins", func(t *testing.T) {
		want := writeExecutable(t, t.TempDir(), "my-chrome", 0o755)
		t.Setenv(ChromiumEnv, want)
		var got string
		r := run(t, func(tb testing.TB) { got = Chromium(tb) })
		expect(t, r, passed, "")
		if got != want {
			t.Fatalf("path %q, want %q", got, want)
		}
	})
	t.Run("variable naming a plain file fails when required", func(t *testing.T) {
		t.Setenv(RequireAllEnv, "1")
		t.Setenv(ChromiumEnv, writeExecutable(t, t.TempDir(), "chromium", 0o644))
		r := run(t, func(tb testing.TB) { Chromium(tb) })
		expect(t, r, failed, ChromiumEnv)
	})
	t.Run("found in PATH", func(t *testing.T) {
		dir := t.TempDir()
		want := writeExecutable(t, dir, "chromium-browser", 0o755)
		t.Setenv(ChromiumEnv, "")
		t.Setenv("PATH", dir)
		var got string
		r := run(t, func(tb testing.TB) { got = Chromium(tb) })
		expect(t, r, passed, "")
		if got != want {
			t.Fatalf("path %q, want %q", got, want)
		}
	})
	t.Run("none skips", func(t *testing.T) {
		t.Setenv(RequireAllEnv, "")
		t.Setenv(ChromiumEnv, "")
		t.Setenv("PATH", t.TempDir())
		r := run(t, func(tb testing.TB) { Chromium(tb) })
		expect(t, r, skipped, "Chromium")
	})
}

func TestModuleRootHoldsTheScripts(t *testing.T) {
	root, err := moduleRoot()
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"kafka-cluster.sh", "postgres.sh"} {
		info, err := os.Stat(filepath.Join(root, "scripts", name))
		if err != nil {
			t.Fatal(err)
		}
		if info.Mode().Perm()&0o100 == 0 {
			t.Fatalf("scripts/%s is not executable", name)
		}
	}
}

func TestScriptsPrintUsage(t *testing.T) {
	LookTool(t, "bash")
	for _, name := range []string{"kafka-cluster.sh", "postgres.sh"} {
		t.Run(name, func(t *testing.T) {
			r := run(t, func(tb testing.TB) { runScript(tb, name, "--help") })
			expect(t, r, passed, "")
		})
	}
}

// TestServicesFromEnvironment checks, where .ci/run or a person exported
// them, that the services the suites rely on answer.
func TestServicesFromEnvironment(t *testing.T) {
	t.Run("kafka", func(t *testing.T) {
		// At least one broker answers; all of them need not, since the
		// cluster suite kills and restarts brokers.
		if len(KafkaBrokers(t)) == 0 {
			t.Fatal("no brokers")
		}
	})
	t.Run("postgres", func(t *testing.T) {
		PostgresURL(t)
	})
	t.Run("chromium", func(t *testing.T) {
		Chromium(t)
	})
}
