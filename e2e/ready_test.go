package e2e

import (
	"net/http"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// A node whose broker and database are unreachable starts, says so on
// /readyz, and does not crash; /healthz answers all along.
func TestNotReadyWithoutBrokerOrStore(t *testing.T) {
	closed := freeAddr(t) // nothing listens there
	httpAddr := freeAddr(t)
	cmd := exec.Command(parleyBin, "serve", "--data", t.TempDir(), "--http", httpAddr,
		"--kafka", closed, "--database", "postgres://parley:parley@"+closed+"/parley?sslmode=disable",
		"--api-key", "k", "--jwt-secret", testSecret)
	var out strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	done := make(chan struct{})
	go func() { exited <- cmd.Wait(); close(done) }()
	t.Cleanup(func() {
		cmd.Process.Kill()
		<-done
	})

	get := func(path string) int {
		resp, err := http.Get("http://" + httpAddr + path)
		if err != nil {
			return 0
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	deadline := time.Now().Add(20 * time.Second)
	for get("/healthz") != 200 {
		select {
		case err := <-exited:
			t.Fatalf("parley exited: %v\n%s", err, out.String())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("no /healthz within 20s:\n%s", out.String())
		}
		time.Sleep(100 * time.Millisecond)
	}
	for range 20 {
		if code := get("/readyz"); code != 503 {
			t.Fatalf("/readyz = %d without broker or database, want 503", code)
		}
		time.Sleep(100 * time.Millisecond)
	}
	select {
	case err := <-exited:
		t.Fatalf("parley exited: %v\n%s", err, out.String())
	default:
	}
}
