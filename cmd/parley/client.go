package main

// This file holds what the client subcommands (every one but serve) share:
// their common flags, a small client for the HTTP API that
// docs/protocol.md describes, and helpers for arguments and output.

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"maps"
	"net"
	"net/http"
	"net/url"
	"os"
	"slices"
	"strings"
	"syscall"
	"time"
)

// defaultServer is where the client subcommands look for Parley unless
// --server or PARLEY_SERVER says otherwise: where `parley serve` listens by
// default.
const defaultServer = "http://127.0.0.1:8080"

// Bounds on what the client reads. The server refuses request bodies over
// 64 KiB, so a larger standard input is a mistake; answers can hold up to
// 500 messages of up to 64 KiB each.
const (
	maxStdin  = 1 << 20
	maxAnswer = 64 << 20
)

// requestTimeout bounds one API call; `parley listen` keeps its connection
// for as long as it runs.
const requestTimeout = 30 * time.Second

// stdin is what "-" arguments and --password-stdin read; tests replace it.
var stdin io.Reader = os.Stdin

// clientOptions are the flags every client subcommand has.
type clientOptions struct {
	server string // the server's base URL
	token  string // a user token
	apiKey string // the server API key
	json   bool   // print the server's JSON instead of text
}

// newClientFlags returns the flag set of a client subcommand with the
// common flags on it. synopsis opens its usage text (a first line, then a
// description); examples close it.
func newClientFlags(name, synopsis, examples string, stderr io.Writer) (*flag.FlagSet,
	*clientOptions) {
	fs := newFlagSet(name, strings.TrimSpace(synopsis), stderr)
	flagsUsage := fs.Usage
	fs.Usage = func() {
		flagsUsage()
		fmt.Fprintf(stderr, "\nExamples:\n%s\n", strings.TrimRight(examples, "\n"))
	}

	o := &clientOptions{}
	fs.StringVar(&o.server, "server", defaultServer, "the Parley server's base URL")
	fs.StringVar(&o.token, "token", "", "a user token, from parley login or your app's backend")
	fs.StringVar(&o.apiKey, "api-key", "", "the server API key (notify, topics)")
	fs.BoolVar(&o.json, "json", false, "print the server's JSON instead of text")
	return fs, o
}

// parse parses args, whose flags and positional arguments may come in any
// order ("--" ends the flags), then fills the flags not given from their
// environment twins. It returns the positional arguments.
func parse(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, flagError(err)
		}
		rest := fs.Args()
		if len(rest) == 0 {
			break
		}
		if n := len(args) - len(rest); n > 0 && args[n-1] == "--" {
			pos = append(pos, rest...)
			break
		}
		pos, args = append(pos, rest[0]), rest[1:]
	}

	if err := parseFlags(fs, nil); err != nil {
		return nil, flagError(err)
	}
	return pos, nil
}

// flagError turns a parse error into a usage error, keeping flag.ErrHelp,
// so that both end the program with exit code 2.
func flagError(err error) error {
	var u usageError
	if errors.Is(err, flag.ErrHelp) || errors.As(err, &u) {
		return err
	}
	return usageError{err.Error()}
}

// wantArgs fails unless exactly n positional arguments were given; names
// says what they are, for the error.
func wantArgs(pos []string, n int, names string) error {
	switch {
	case len(pos) < n:
		return usageError{"missing " + names}
	case len(pos) > n:
		return usageError{fmt.Sprintf("unexpected argument %q", pos[n])}
	}
	return nil
}

// listFlag is a flag that may be repeated, each value a comma-separated
// list: --to bob --to carol,dave.
type listFlag []string

// String returns the values joined by commas.
func (l *listFlag) String() string { return strings.Join(*l, ",") }

// Set adds the comma-separated values of v.
func (l *listFlag) Set(v string) error {
	for _, s := range strings.Split(v, ",") {
		if s = strings.TrimSpace(s); s != "" {
			*l = append(*l, s)
		}
	}
	return nil
}

// textArg returns the text the positional arguments give, joined by
// spaces, or standard input when the only argument is "-".
func textArg(pos []string) (string, error) {
	if len(pos) != 1 || pos[0] != "-" {
		return strings.Join(pos, " "), nil
	}
	b, err := io.ReadAll(io.LimitReader(stdin, maxStdin+1))
	if err != nil {
		return "", fmt.Errorf("read standard input: %w", err)
	}
	if len(b) > maxStdin {
		return "", fmt.Errorf("read standard input: more than %d bytes", maxStdin)
	}
	return strings.TrimRight(string(b), "\r\n"), nil
}

// client calls the HTTP API of one Parley server.
type client struct {
	base string // the server's base URL, without a trailing slash
	cred string // the bearer credential: a user token, the API key or ""
	http *http.Client
}

// userClient returns a client that authenticates with the user token.
func (o *clientOptions) userClient() (*client, error) {
	if o.token == "" {
		return nil, usageError{"no user token: pass --token or set PARLEY_TOKEN " +
			"(`parley login` prints one)"}
	}
	return o.newClient(o.token)
}

// serverClient returns a client that authenticates with the API key.
func (o *clientOptions) serverClient() (*client, error) {
	if o.apiKey == "" {
		return nil, usageError{"no API key: pass --api-key or set PARLEY_API_KEY " +
			"(`parley serve` prints it)"}
	}
	return o.newClient(o.apiKey)
}

// newClient returns a client for --server with the credential cred.
func (o *clientOptions) newClient(cred string) (*client, error) {
	u, err := url.Parse(o.server)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, usageError{fmt.Sprintf("--server %q: want a URL like %s", o.server,
			defaultServer)}
	}
	c := &client{
		base: strings.TrimRight(o.server, "/"),
		cred: cred,
		http: &http.Client{Timeout: requestTimeout},
	}
	return c, nil
}

// call sends a request to path, with in as its JSON body unless in is nil,
// and decodes a successful answer into out unless out is nil. It returns
// the answer's body as it came, for --json. An error answer is an
// *apiError.
func (c *client) call(ctx context.Context, method, path string, in, out any) ([]byte,
	error) {
	req, err := c.request(ctx, method, path, in)
	if err != nil {
		return nil, err
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return nil, c.transportError(err)
	}
	defer resp.Body.Close()

	body, err := io.ReadAll(io.LimitReader(resp.Body, maxAnswer))
	if err != nil {
		return nil, fmt.Errorf("read answer to %s %s: %w", method, path, err)
	}
	if resp.StatusCode >= 300 {
		return nil, answerError(resp.StatusCode, body)
	}
	if out != nil && len(body) > 0 {
		if err := json.Unmarshal(body, out); err != nil {
			return nil, fmt.Errorf("decode answer to %s %s: %w", method, path, err)
		}
	}
	return body, nil
}

// request builds an API request.
func (c *client) request(ctx context.Context, method, path string, in any) (*http.Request,
	error) {
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return nil, fmt.Errorf("encode request: %w", err)
		}
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.base+path, body)
	if err != nil {
		return nil, fmt.Errorf("build request: %w", err)
	}

	req.Header.Set("Accept", "application/json")
	if in != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if c.cred != "" {
		req.Header.Set("Authorization", "Bearer "+c.cred)
	}
	return req, nil
}

// transportError explains an error that kept a request from getting an
// answer.
func (c *client) transportError(err error) error {
	var op *net.OpError
	switch {
	case errors.Is(err, context.Canceled):
		return err
	case errors.Is(err, syscall.ECONNREFUSED):
		return &unreachableError{server: c.base, err: err}
	case errors.As(err, &op) && op.Op == "dial":
		return fmt.Errorf("cannot reach Parley at %s: %w", c.base, op)
	}
	return fmt.Errorf("call Parley at %s: %w", c.base, err)
}

// unreachableError is the error when nothing listens at the server's
// address.
type unreachableError struct {
	server string
	err    error
}

// Error names the server and the likely cause.
func (e *unreachableError) Error() string {
	return fmt.Sprintf("cannot reach Parley at %s: is `parley serve` running?", e.server)
}

// Unwrap returns the dial error.
func (e *unreachableError) Unwrap() error { return e.err }

// apiError is an error answer from the server. Its body, as
// docs/protocol.md describes, is {"error": {"code", "message"}}; Code is
// empty when the answer had no such body (a proxy's error page, say).
type apiError struct {
	Status  int
	Code    string
	Message string
}

// Error is the server's message and code, as the CLI shows them.
func (e *apiError) Error() string {
	if e.Code == "" {
		return fmt.Sprintf("server answered %d %s", e.Status, http.StatusText(e.Status))
	}
	return fmt.Sprintf("%s (%s)", e.Message, e.Code)
}

// answerError decodes the error answer body of a request that failed with
// status.
func answerError(status int, body []byte) *apiError {
	var answer struct {
		Error struct {
			Code    string `json:"code"`
			Message string `json:"message"`
		} `json:"error"`
	}
	e := &apiError{Status: status}
	if json.Unmarshal(body, &answer) == nil && answer.Error.Code != "" {
		e.Code, e.Message = answer.Error.Code, answer.Error.Message
	}
	return e
}

// apiPath builds a request path from format, escaping each of segments as a
// path segment: apiPath("/v1/dm/%s/messages", user).
func apiPath(format string, segments ...string) string {
	args := make([]any, len(segments))
	for i, s := range segments {
		args[i] = url.PathEscape(s)
	}
	return fmt.Sprintf(format, args...)
}

// withQuery appends the non-empty values of q to path.
func withQuery(path string, q url.Values) string {
	for k, vs := range q {
		if len(vs) == 0 || vs[0] == "" {
			delete(q, k)
		}
	}
	if len(q) == 0 {
		return path
	}
	return path + "?" + q.Encode()
}

// printRaw writes an answer's JSON as it came, on a line of its own.
func printRaw(w io.Writer, raw []byte) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 {
		return
	}
	w.Write(append(raw, '\n'))
}

// subcommand is a verb of a command that has verbs, such as `groups add`.
type subcommand struct {
	summary string
	run     func(ctx context.Context, args []string, stdout, stderr io.Writer) error
}

// dispatch runs the verb that args start with, or def when they start with
// a flag or are empty. --help before any verb lists the verbs.
func dispatch(ctx context.Context, name, def string, verbs map[string]subcommand,
	examples string, args []string, stdout, stderr io.Writer) error {
	verb := def
	if len(args) > 0 {
		switch a := args[0]; {
		case a == "-h" || a == "-help" || a == "--help" || a == "help":
			verbsUsage(stderr, name, def, verbs, examples)
			return flag.ErrHelp
		case !strings.HasPrefix(a, "-"):
			verb, args = a, args[1:]
		}
	}

	s, ok := verbs[verb]
	if !ok {
		verbsUsage(stderr, name, def, verbs, examples)
		return usageError{fmt.Sprintf("unknown %s subcommand %q", name, verb)}
	}
	return s.run(ctx, args, stdout, stderr)
}

// verbsUsage writes the usage text of a command with verbs.
func verbsUsage(w io.Writer, name, def string, verbs map[string]subcommand,
	examples string) {
	fmt.Fprintf(w, "Usage: parley %s [<subcommand>] [flags]\n\nSubcommands:\n", name)
	t := newTable(w)
	for _, v := range slices.Sorted(maps.Keys(verbs)) {
		fmt.Fprintf(t, "  %s\t%s\n", v, verbs[v].summary)
	}
	t.Flush()
	fmt.Fprintf(w, "\nWithout a subcommand, it runs %q. For a subcommand's flags, run\n"+
		"'parley %s <subcommand> --help'.\n\nExamples:\n%s\n", def, name, examples)
}
