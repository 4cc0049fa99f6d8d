package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestSmoke starts a real `parley serve` on free loopback ports and runs
// every Parley scenario tiny against it. It checks that the tool works and
// that nothing is lost, duplicated or refused; it does not judge speed.
func TestSmoke(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a server")
	}
	srv := startParley(t)

	common := []string{"--addr", srv.http, "--jwt-secret", srv.secret, "--pid",
		fmt.Sprint(srv.pid), "--step", "1s", "--warmup", "200ms", "--drain", "300ms",
		"--settle", "5s", "--quiet"}
	cases := []struct {
		name string
		args []string
	}{
		{"dm over http", []string{"dm", "--pairs", "5", "--rates", "50,100"}},
		{"dm over websocket", []string{"dm", "--sender", "ws", "--pairs", "5", "--rates", "100"}},
		{"fanout", []string{"fanout", "--members", "20", "--rates", "20"}},
		{"notify", []string{"notify", "--conns", "10", "--rates", "100", "--kafka", srv.kafka}},
		{"idle", []string{"idle", "--conns", "30", "--hold", "300ms"}},
	}
	for i, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			out := filepath.Join(t.TempDir(), "result.json")
			args := append(append(tc.args, common...), "--json", out,
				"--tag", fmt.Sprintf("smoke%d", i))
			ctx, cancel := context.WithTimeout(context.Background(), 40*time.Second)
			defer cancel()
			if err := run1(ctx, args, io.Discard, io.Discard); err != nil {
				t.Fatalf("run: %v", err)
			}
			res := readResult(t, out)
			checkResult(t, tc.args[0], res)
		})
	}

	t.Run("merge of two shards", func(t *testing.T) {
		dir := t.TempDir()
		ctx, cancel := context.WithTimeout(context.Background(), 40*time.Second)
		defer cancel()
		start := fmt.Sprint(float64(time.Now().Add(3*time.Second).UnixNano()) / 1e9)
		errs := make(chan error, 2)
		for i := range 2 {
			args := append([]string{"fanout", "--members", "10", "--rates", "20", "--shard",
				fmt.Sprintf("%d/2", i), "--start-at", start, "--tag", "smokeshard",
				"--json", filepath.Join(dir, fmt.Sprintf("%d.json", i))}, common...)
			go func() { errs <- run1(ctx, args, io.Discard, io.Discard) }()
		}
		for range 2 {
			if err := <-errs; err != nil {
				t.Fatalf("shard: %v", err)
			}
		}
		merged := filepath.Join(dir, "merged.json")
		err := run1(ctx, []string{"merge", "--json", merged, filepath.Join(dir, "0.json"),
			filepath.Join(dir, "1.json")}, io.Discard, io.Discard)
		if err != nil {
			t.Fatalf("merge: %v", err)
		}
		checkResult(t, "fanout", readResult(t, merged))
	})
}

func checkResult(t *testing.T, scenario string, res *result) {
	t.Helper()
	if res.Errors != 0 || res.Overflow != 0 {
		t.Errorf("errors %d, overflow %d, last error %q", res.Errors, res.Overflow, res.LastError)
	}
	if res.Lost != 0 || res.Dups != 0 || res.Extra != 0 {
		t.Errorf("lost %d, duplicates %d, extra %d", res.Lost, res.Dups, res.Extra)
	}
	if scenario == "idle" {
		if res.Idle == nil || res.Idle.Conns != 30 || res.Idle.RSSMiB <= 0 {
			t.Errorf("idle result %+v", res.Idle)
		}
		return
	}
	if res.Acked == 0 || res.Acked != res.Sent {
		t.Errorf("sent %d, acked %d", res.Sent, res.Acked)
	}
	if len(res.Steps) == 0 || res.Steps[0].Latency.Count == 0 {
		t.Errorf("no latency measured: %+v", res.Steps)
	}
}

func readResult(t *testing.T, path string) *result {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var r result
	if err := json.Unmarshal(b, &r); err != nil {
		t.Fatal(err)
	}
	return &r
}

// server is a parley serve process the test started.
type server struct {
	pid    int
	http   string
	kafka  string
	secret string
}

// startParley builds the server, starts it with a temporary data folder
// and waits until it is ready. The test's cleanup ends it by its PID.
func startParley(t *testing.T) *server {
	t.Helper()
	dir := t.TempDir()
	bin := filepath.Join(dir, "parley")
	build := exec.Command("go", "build", "-o", bin, "github.com/parley-chat/parley/cmd/parley")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("build parley: %v\n%s", err, out)
	}

	s := &server{http: freeAddr(t), kafka: freeAddr(t), secret: "smoke-secret-0123456789abcdef"}
	logf, err := os.Create(filepath.Join(dir, "server.log"))
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "serve", "--data", filepath.Join(dir, "data"), "--http", s.http,
		"--kafka-listen", s.kafka, "--jwt-secret", s.secret,
		"--api-key", "smoke-api-key-0123456789abcdef", "--log-level", "warn")
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		t.Fatalf("start parley: %v", err)
	}
	s.pid = cmd.Process.Pid
	t.Cleanup(func() {
		_ = syscall.Kill(s.pid, syscall.SIGTERM)
		done := make(chan struct{})
		go func() {
			_ = cmd.Wait()
			close(done)
		}()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			_ = syscall.Kill(s.pid, syscall.SIGKILL)
			<-done
		}
		logf.Close()
		if t.Failed() {
			b, _ := os.ReadFile(logf.Name())
			t.Logf("server log:\n%s", lastLines(string(b), 40))
		}
	})

	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		resp, err := http.Get("http://" + s.http + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return s
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatal("parley did not become ready in 30 s")
	return nil
}

// freeAddr returns a loopback address nothing listens on. Another process
// could take the port before the server does; on a test machine that is
// rare enough.
func freeAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	return strings.Join(lines[max(0, len(lines)-n):], "\n")
}

func TestParseBody(t *testing.T) {
	sent := time.Unix(1_796_453_463, 123_456_789)
	id := uint64(3)<<48 | 0xabc
	line := []byte(`{"type":"message","body":"` + makeBody(id, sent, "u42") + `","seq":7}`)
	gotID, gotSent, to, ok := parseBody(line)
	if !ok || gotID != id || gotSent != sent.UnixNano() || string(to) != "u42" {
		t.Errorf("parseBody = %x, %d, %q, %v; want %x, %d, u42, true", gotID, gotSent, to, ok,
			id, sent.UnixNano())
	}
	for _, bad := range []string{`"pb1 xyz 1 u"`, `"pb1 1 -5 u"`, `"pb1 1 2"`, `"pb1 1 2 u v"`,
		`"pb1 1 99999999999999999999 u"`, `"hello"`} {
		if _, _, _, ok := parseBody([]byte(bad)); ok {
			t.Errorf("parseBody(%s) succeeded", bad)
		}
	}
}

func TestIDSetAddsOnce(t *testing.T) {
	var s idSet
	for _, id := range []uint64{5, 1<<48 | 5, 1000, 5} {
		s.add(id)
	}
	if s.add(5) || s.add(1<<48|5) || s.add(1000) {
		t.Error("an ID added before is new again")
	}
	if !s.add(6) || !s.add(2<<48|5) {
		t.Error("a new ID is not new")
	}
}
