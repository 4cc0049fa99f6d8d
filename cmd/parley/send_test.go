package main

import "testing"

const sentMessage = `{"id":"m1","type":"message","conversation":"dm:alice:bob","from":"alice",
"body":"hello world","sent_at":"2025-01-02T12:03:04Z","cursor":"42"}`

func TestSend(t *testing.T) {
	dm := map[string]reply{"POST /v1/dm/bob/messages": {201, sentMessage}}
	runCases(t, []cliCase{{
		name:     "direct message from the arguments",
		args:     []string{"send", "--token", "t", "--to", "bob", "hello", "world"},
		routes:   dm,
		wantReqs: []request{{"POST", "/v1/dm/bob/messages", "Bearer t", `{"body":"hello world"}`}},
		wantOut:  "sent m1 to dm:alice:bob (cursor 42)\n",
	}, {
		name: "group message with flags after the text",
		args: []string{"send", "hi all", "--group", "g1", "--client-id", "c1", "--token", "t"},
		routes: map[string]reply{"POST /v1/groups/g1/messages": {201,
			`{"id":"m2","conversation":"group:g1","cursor":"7"}`}},
		wantReqs: []request{{"POST", "/v1/groups/g1/messages", "Bearer t",
			`{"body":"hi all","client_id":"c1"}`}},
		wantOut: "sent m2 to group:g1 (cursor 7)\n",
	}, {
		name:   "body from standard input",
		args:   []string{"send", "--token", "t", "--to", "bob", "-"},
		stdin:  "line one\nline two\n",
		routes: dm,
		wantReqs: []request{{"POST", "/v1/dm/bob/messages", "Bearer t",
			`{"body":"line one\nline two"}`}},
		wantOut: "sent m1 to dm:alice:bob (cursor 42)\n",
	}, {
		name:    "json prints the answer",
		args:    []string{"send", "--token", "t", "--to", "bob", "--json", "hi"},
		routes:  map[string]reply{"POST /v1/dm/bob/messages": {201, `{"id":"m1"}` + "\n"}},
		wantOut: `{"id":"m1"}` + "\n",
	}, {
		name: "user IDs are escaped in the path",
		args: []string{"send", "--token", "t", "--to", "a/b", "hi"},
		routes: map[string]reply{"POST /v1/dm/a%2Fb/messages": {404,
			`{"error":{"code":"user_not_found","message":"no user \"a/b\""}}`}},
		wantReqs: []request{{"POST", "/v1/dm/a%2Fb/messages", "Bearer t", `{"body":"hi"}`}},
		wantErr:  `parley: no user "a/b" (user_not_found)`,
		wantCode: 1,
	}, {
		name:     "no text",
		args:     []string{"send", "--token", "t", "--to", "bob"},
		wantReqs: []request{},
		wantErr:  "missing message text",
		wantCode: 2,
	}, {
		name:     "no recipient",
		args:     []string{"send", "--token", "t", "hi"},
		wantReqs: []request{},
		wantErr:  "missing --to USER or --group ID",
		wantCode: 2,
	}, {
		name:     "both recipients",
		args:     []string{"send", "--token", "t", "--to", "bob", "--group", "g1", "hi"},
		wantReqs: []request{},
		wantErr:  "give --to or --group, not both",
		wantCode: 2,
	}})
}

func TestNotify(t *testing.T) {
	routes := map[string]reply{"POST /v1/notifications": {201, `{"id":"n1","body":"x"}`}}
	runCases(t, []cliCase{{
		name: "every field",
		args: []string{"notify", "--api-key", "k", "--to", "bob,carol", "--to", "dave",
			"--title", "Build", "--kind", "alert", "--priority", "urgent",
			"--data", `{"run":7}`, "--collapse-key", "build", "--ttl", "10m", "--id", "n1",
			"main", "is", "red"},
		routes: routes,
		wantReqs: []request{{"POST", "/v1/notifications", "Bearer k", `{"to":["bob","carol","dave"],
			"title":"Build","body":"main is red","kind":"alert","priority":"urgent",
			"data":{"run":7},"collapse_key":"build","ttl":"10m","id":"n1"}`}},
		wantOut: "n1\n",
	}, {
		name:   "no --to goes to every user; ttl in seconds",
		args:   []string{"notify", "--api-key", "k", "--body", "down at 22:00", "--ttl", "3600"},
		routes: routes,
		wantReqs: []request{{"POST", "/v1/notifications", "Bearer k",
			`{"to":"*","body":"down at 22:00","ttl":3600}`}},
		wantOut: "n1\n",
	}, {
		name:   "body from standard input",
		args:   []string{"notify", "--api-key", "k", "--to", "bob", "-"},
		stdin:  "from a pipe\n",
		routes: routes,
		wantReqs: []request{{"POST", "/v1/notifications", "Bearer k",
			`{"to":["bob"],"body":"from a pipe"}`}},
		wantOut: "n1\n",
	}, {
		name:     "data that is not JSON",
		args:     []string{"notify", "--api-key", "k", "--data", "{nope", "hi"},
		wantReqs: []request{},
		wantErr:  "is not valid JSON",
		wantCode: 2,
	}, {
		name:     "a bad ttl",
		args:     []string{"notify", "--api-key", "k", "--ttl", "soon", "hi"},
		wantReqs: []request{},
		wantErr:  `--ttl "soon"`,
		wantCode: 2,
	}, {
		name:     "body twice",
		args:     []string{"notify", "--api-key", "k", "--body", "a", "b"},
		wantReqs: []request{},
		wantErr:  "not both",
		wantCode: 2,
	}, {
		name:     "no body",
		args:     []string{"notify", "--api-key", "k", "--title", "t"},
		wantReqs: []request{},
		wantErr:  "missing the notification body",
		wantCode: 2,
	}, {
		name: "a user token where the API key belongs",
		args: []string{"notify", "--api-key", "user-token", "hi"},
		routes: map[string]reply{"POST /v1/notifications": {403,
			`{"error":{"code":"forbidden","message":"this route takes the API key"}}`}},
		wantErr:  "parley: this route takes the API key (forbidden)",
		wantCode: 1,
	}})
}

func TestLogin(t *testing.T) {
	auth := `{"token":"tok.en","user":{"id":"alice"}}`
	runCases(t, []cliCase{{
		name:   "login prints the token alone",
		args:   []string{"login", "--username", "alice", "--password", "pw"},
		routes: map[string]reply{"POST /v1/auth/login": {200, auth}},
		wantReqs: []request{{"POST", "/v1/auth/login", "",
			`{"username":"alice","password":"pw"}`}},
		wantOut: "tok.en\n",
	}, {
		name:   "register with the password on standard input",
		args:   []string{"register", "--username", "alice", "--password-stdin"},
		stdin:  "s3cret\nignored\n",
		routes: map[string]reply{"POST /v1/auth/register": {201, auth}},
		wantReqs: []request{{"POST", "/v1/auth/register", "",
			`{"username":"alice","password":"s3cret"}`}},
		wantOut: "tok.en\n",
	}, {
		name:    "json prints the answer",
		args:    []string{"login", "--username", "alice", "--password", "pw", "--json"},
		routes:  map[string]reply{"POST /v1/auth/login": {200, auth}},
		wantOut: auth + "\n",
	}, {
		name: "wrong password",
		args: []string{"login", "--username", "alice", "--password", "nope"},
		routes: map[string]reply{"POST /v1/auth/login": {401,
			`{"error":{"code":"bad_credentials","message":"wrong user name or password"}}`}},
		wantErr:  "parley: wrong user name or password (bad_credentials)\n",
		wantCode: 1,
	}, {
		name:     "no password",
		args:     []string{"login", "--username", "alice"},
		wantReqs: []request{},
		wantErr:  "--username and a password are required",
		wantCode: 2,
	}})
}
