package e2e

import (
	"bufio"
	"context"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/parley-chat/parley/internal/testenv"
)

// Bounds on each step; the whole suite takes about two minutes here.
const (
	buildTimeout   = 5 * time.Minute
	installTimeout = 5 * time.Minute
	suiteTimeout   = 15 * time.Minute
)

// minNodeMajor is the oldest Node.js whose test runner has
// --test-concurrency and that playwright-core supports.
const minNodeMajor = 20

func TestBrowser(t *testing.T) {
	if testing.Short() && !testenv.RequireAll() {
		t.Skip("browser tests are slow; skipped with -short")
	}
	chromium := testenv.Chromium(t)
	node := testenv.LookTool(t, "node")
	npm := testenv.LookTool(t, "npm")
	testenv.Require(t, "Node.js "+strconv.Itoa(minNodeMajor)+" or newer", nodeMajor(t, node) >= minNodeMajor)

	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(t.TempDir(), "parley")
	run(t, buildTimeout, filepath.Join(dir, "..", ".."), nil, goTool(t), "build", "-o", bin, "./cmd/parley")

	if _, err := os.Stat(filepath.Join(dir, "node_modules", "playwright-core")); err != nil {
		run(t, installTimeout, dir, nil, npm, "ci", "--no-audit", "--no-fund")
	}

	env := []string{"PARLEY_BIN=" + bin, "PARLEY_CHROMIUM=" + chromium}
	run(t, suiteTimeout, dir, env, node, "--test", "--test-concurrency=1")
}

// run runs a command in dir, streaming its output to the test log line by
// line, and fails the test if it fails or outlives timeout.
func run(t *testing.T, timeout time.Duration, dir string, env []string, name string, args ...string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()

	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), env...)
	// On timeout, SIGTERM first: the node runner then ends the servers it
	// started; WaitDelay bounds how long it may take.
	cmd.Cancel = func() error { return cmd.Process.Signal(os.Interrupt) }
	cmd.WaitDelay = 30 * time.Second

	pr, pw := io.Pipe()
	cmd.Stdout, cmd.Stderr = pw, pw
	var wg sync.WaitGroup
	wg.Go(func() {
		sc := bufio.NewScanner(pr)
		sc.Buffer(make([]byte, 64*1024), 1024*1024)
		for sc.Scan() {
			t.Log(sc.Text())
		}
		io.Copy(io.Discard, pr)
	})

	t.Logf("run %s %s", filepath.Base(name), strings.Join(args, " "))
	err := cmd.Run()
	pw.Close()
	wg.Wait()
	if ctx.Err() != nil {
		t.Fatalf("%s %s: timed out after %v", filepath.Base(name), strings.Join(args, " "), timeout)
	}
	if err != nil {
		t.Fatalf("%s %s: %v", filepath.Base(name), strings.Join(args, " "), err)
	}
}

// nodeMajor returns the major version of the node executable, or 0.
func nodeMajor(t *testing.T, node string) int {
	t.Helper()
	out, err := exec.Command(node, "--version").Output()
	if err != nil {
		return 0
	}
	v := strings.TrimPrefix(strings.TrimSpace(string(out)), "v")
	major, _, _ := strings.Cut(v, ".")
	n, _ := strconv.Atoi(major)
	return n
}

// goTool returns the go command that runs this test, falling back to PATH.
func goTool(t *testing.T) string {
	t.Helper()
	if root := os.Getenv("GOROOT"); root != "" {
		if p := filepath.Join(root, "bin", "go"); fileExists(p) {
			return p
		}
	}
	return testenv.LookTool(t, "go")
}

func fileExists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}
