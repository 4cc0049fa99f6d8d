package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/parley-chat/parley/internal/testenv"
)

func TestMain(m *testing.M) {
	// Output shows local times; pin them so expected text is stable.
	time.Local = time.UTC
	// The flags' environment twins of the machine running the tests must
	// not leak into them; the variables that tell tests where services are
	// (internal/testenv) stay.
	for _, kv := range os.Environ() {
		name, _, _ := strings.Cut(kv, "=")
		if strings.HasPrefix(name, "PARLEY_") && !strings.HasPrefix(name, "PARLEY_TEST_") &&
			name != testenv.RequireAllEnv && name != testenv.ChromiumEnv {
			os.Unsetenv(name)
		}
	}
	os.Exit(m.Run())
}

// request is a request the fake API received.
type request struct {
	Method string
	Path   string // escaped, with the query
	Auth   string
	Body   string
}

// reply is a canned answer of the fake API.
type reply struct {
	status int
	body   string
}

// fakeAPI is an HTTP server that answers routes ("GET /v1/me") with canned
// replies and records the requests it gets. Other routes get the 404 the
// real server sends for an unknown API path.
type fakeAPI struct {
	*httptest.Server
	routes map[string]reply

	// mu guards got.
	mu  sync.Mutex
	got []request
}

// newFakeAPI starts a fake API with routes; the test closes it.
func newFakeAPI(t *testing.T, routes map[string]reply) *fakeAPI {
	t.Helper()
	f := &fakeAPI{routes: routes}
	f.Server = httptest.NewServer(http.HandlerFunc(f.serve))
	t.Cleanup(f.Close)
	return f
}

// serve records a request and answers it from the routes.
func (f *fakeAPI) serve(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	path := r.URL.EscapedPath()
	f.mu.Lock()
	f.got = append(f.got, request{
		Method: r.Method,
		Path:   path + query(r.URL.RawQuery),
		Auth:   r.Header.Get("Authorization"),
		Body:   string(body),
	})
	f.mu.Unlock()

	rep, ok := f.routes[r.Method+" "+path]
	if !ok {
		rep = reply{404, `{"error":{"code":"no_route","message":"no such route"}}`}
	}
	if rep.body != "" {
		w.Header().Set("Content-Type", "application/json")
	}
	w.WriteHeader(rep.status)
	io.WriteString(w, rep.body)
}

// query returns a raw query with its "?", or "" when it is empty.
func query(raw string) string {
	if raw == "" {
		return ""
	}
	return "?" + raw
}

// requests returns the requests received so far.
func (f *fakeAPI) requests() []request {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]request(nil), f.got...)
}

// result is how a run of the CLI ended.
type result struct {
	stdout string
	stderr string
	code   int
}

// runCLI runs the CLI as main does, with stdinText as standard input.
func runCLI(t *testing.T, stdinText string, args ...string) result {
	t.Helper()
	old := stdin
	stdin = strings.NewReader(stdinText)
	t.Cleanup(func() { stdin = old })

	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	var out, errOut bytes.Buffer
	err := run(ctx, args, &out, &errOut)
	res := result{stdout: out.String()}
	if err != nil {
		res.code = exitCode(err)
		if !errors.Is(err, flag.ErrHelp) {
			fmt.Fprintln(&errOut, "parley:", err)
		}
	}
	res.stderr = errOut.String()
	return res
}

// sameJSON reports whether two JSON texts hold the same value.
func sameJSON(t *testing.T, got, want string) bool {
	t.Helper()
	if got == "" || want == "" {
		return got == want
	}
	var g, w any
	if err := json.Unmarshal([]byte(got), &g); err != nil {
		t.Fatalf("body %q is not JSON: %v", got, err)
	}
	if err := json.Unmarshal([]byte(want), &w); err != nil {
		t.Fatalf("want %q is not JSON: %v", want, err)
	}
	return reflect.DeepEqual(g, w)
}

// cliCase is a run of the CLI against a fake API and what it should do.
type cliCase struct {
	name   string
	args   []string // without --server
	stdin  string
	routes map[string]reply

	wantReqs []request // Body compared as JSON; nil: not checked
	wantOut  string
	wantErr  string // a substring of stderr; "" checks that stderr is empty
	wantCode int
}

// runCases runs each case as a subtest against a fresh fake API.
func runCases(t *testing.T, cases []cliCase) {
	t.Helper()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			api := newFakeAPI(t, tc.routes)
			args := append(tc.args[:len(tc.args):len(tc.args)], "--server", api.URL)
			res := runCLI(t, tc.stdin, args...)
			checkResult(t, res, tc)
			if tc.wantReqs != nil {
				checkRequests(t, api.requests(), tc.wantReqs)
			}
		})
	}
}

// checkResult compares a run's outcome with a case's.
func checkResult(t *testing.T, res result, tc cliCase) {
	t.Helper()
	if res.code != tc.wantCode {
		t.Errorf("exit code %d, want %d (stderr %q)", res.code, tc.wantCode, res.stderr)
	}
	if res.stdout != tc.wantOut {
		t.Errorf("stdout:\n%s\nwant:\n%s", res.stdout, tc.wantOut)
	}
	switch {
	case tc.wantErr == "" && res.stderr != "":
		t.Errorf("stderr %q, want none", res.stderr)
	case !strings.Contains(res.stderr, tc.wantErr):
		t.Errorf("stderr %q, want it to hold %q", res.stderr, tc.wantErr)
	}
}

// checkRequests compares the requests the fake API got with want.
func checkRequests(t *testing.T, got, want []request) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("got %d requests %+v, want %d %+v", len(got), got, len(want), want)
	}
	for i := range want {
		g, w := got[i], want[i]
		if g.Method != w.Method || g.Path != w.Path || g.Auth != w.Auth {
			t.Errorf("request %d: %s %s (auth %q), want %s %s (auth %q)", i, g.Method, g.Path,
				g.Auth, w.Method, w.Path, w.Auth)
		}
		if !sameJSON(t, g.Body, w.Body) {
			t.Errorf("request %d body %s, want %s", i, g.Body, w.Body)
		}
	}
}

func TestClientErrors(t *testing.T) {
	unauthorized := reply{401, `{"error":{"code":"token_expired","message":"token expired"}}`}
	runCases(t, []cliCase{{
		name:     "401 shows the server's message and code",
		args:     []string{"conversations", "--token", "old"},
		routes:   map[string]reply{"GET /v1/conversations": unauthorized},
		wantErr:  "parley: token expired (token_expired)\n",
		wantCode: 1,
	}, {
		name:     "404 shows the server's message and code",
		args:     []string{"groups", "show", "nope", "--token", "t"},
		routes:   map[string]reply{"GET /v1/groups/nope": {404, notFoundGroup}},
		wantErr:  `parley: no group "nope" (group_not_found)` + "\n",
		wantCode: 1,
	}, {
		name:     "an answer without an error body shows the status",
		args:     []string{"conversations", "--token", "t"},
		routes:   map[string]reply{"GET /v1/conversations": {502, "<html>bad gateway</html>"}},
		wantErr:  "parley: server answered 502 Bad Gateway\n",
		wantCode: 1,
	}, {
		name:     "an unknown flag is a usage error",
		args:     []string{"send", "--bogus"},
		wantReqs: []request{},
		wantErr:  "flag provided but not defined: -bogus",
		wantCode: 2,
	}, {
		name:     "no token is a usage error",
		args:     []string{"send", "--to", "bob", "hi"},
		wantReqs: []request{},
		wantErr:  "no user token: pass --token or set PARLEY_TOKEN",
		wantCode: 2,
	}, {
		name:     "no API key is a usage error",
		args:     []string{"notify", "--token", "t", "hi"},
		wantReqs: []request{},
		wantErr:  "no API key: pass --api-key or set PARLEY_API_KEY",
		wantCode: 2,
	}, {
		name:     "--help prints the usage with examples",
		args:     []string{"notify", "--help"},
		wantReqs: []request{},
		wantErr:  "Examples:\n  parley notify --to bob",
		wantCode: 2,
	}})
}

const notFoundGroup = `{"error":{"code":"group_not_found","message":"no group \"nope\""}}`

func TestServerDown(t *testing.T) {
	down := httptest.NewServer(http.NotFoundHandler())
	url := down.URL
	down.Close()

	for _, args := range [][]string{
		{"send", "--to", "bob", "hi"},
		{"listen"},
	} {
		t.Run(args[0], func(t *testing.T) {
			args = append(args, "--server", url, "--token", "t")
			res := runCLI(t, "", args...)
			want := "parley: cannot reach Parley at " + url + ": is `parley serve` running?\n"
			if res.code != 1 || res.stderr != want {
				t.Errorf("exit code %d, stderr %q; want 1, %q", res.code, res.stderr, want)
			}
		})
	}
}

func TestBadServerURL(t *testing.T) {
	res := runCLI(t, "", "send", "--server", "127.0.0.1:8080", "--token", "t", "--to", "b", "x")
	if res.code != 2 || !strings.Contains(res.stderr, "want a URL like http://") {
		t.Errorf("exit code %d, stderr %q; want a usage error", res.code, res.stderr)
	}
}

func TestEnvironmentTwins(t *testing.T) {
	api := newFakeAPI(t, map[string]reply{"GET /v1/conversations": {200, `{}`}})
	t.Setenv("PARLEY_SERVER", api.URL)
	t.Setenv("PARLEY_TOKEN", "from-env")

	runCLI(t, "", "conversations")
	runCLI(t, "", "conversations", "--token", "from-flag")
	got := api.requests()
	if len(got) != 2 || got[0].Auth != "Bearer from-env" || got[1].Auth != "Bearer from-flag" {
		t.Errorf("requests %+v: want the token from the environment, then from the flag", got)
	}
}

func TestParse(t *testing.T) {
	tests := []struct {
		name     string
		args     []string
		wantPos  []string
		wantJSON bool
	}{
		{"flags first", []string{"--json", "a", "b"}, []string{"a", "b"}, true},
		{"flags between arguments", []string{"a", "--json", "b"}, []string{"a", "b"}, true},
		{"flags last", []string{"a", "b", "--json"}, []string{"a", "b"}, true},
		{"double dash ends flags", []string{"a", "--", "--json"}, []string{"a", "--json"}, false},
		{"dash is an argument", []string{"-", "--json"}, []string{"-"}, true},
		{"no arguments", nil, nil, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			fs, o := newClientFlags("test", "test", "", io.Discard)
			pos, err := parse(fs, tc.args)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(pos, tc.wantPos) || o.json != tc.wantJSON {
				t.Errorf("positional %q, json %v; want %q, %v", pos, o.json, tc.wantPos,
					tc.wantJSON)
			}
		})
	}
}

func TestClean(t *testing.T) {
	tests := []struct{ in, want string }{
		{"plain text", "plain text"},
		{"two\nlines", "two↵lines"},
		{"tab\there", "tab here"},
		{"\x1b[31mred", `\x1b[31mred`},
		{"bell\a", `bell\a`},
		{"ünïcode — ok", "ünïcode — ok"},
	}
	for _, tc := range tests {
		if got := clean(tc.in); got != tc.want {
			t.Errorf("clean(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}
