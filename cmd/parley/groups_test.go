package main

import (
	"strings"
	"testing"
)

const opsGroup = `{"id":"ops","name":"Ops","owner":"alice","strategy":"shared",
"created_at":"2025-01-02T12:00:00Z","members":[
{"user":"alice","role":"owner","joined_at":"2025-01-02T12:00:00Z"},
{"user":"bob","role":"member","joined_at":"2025-01-02T12:00:00Z"}]}`

const opsGroupText = `group ops "Ops"
owner alice, strategy shared, created 2025-01-02 12:00:00
MEMBER  ROLE    JOINED
alice   owner   2025-01-02 12:00:00
bob     member  2025-01-02 12:00:00
`

const groupPage = `{"messages":[
{"id":"a","type":"member","conversation":"group:ops","from":"alice",
 "sent_at":"2025-01-02T12:00:00Z","member":{"user":"bob","action":"joined","role":"admin"},
 "cursor":"40"},
{"id":"b","type":"message","conversation":"group:ops","from":"bob","body":"hi\nall",
 "sent_at":"2025-01-02T12:03:04Z","cursor":"41"},
{"id":"c","type":"member","conversation":"group:ops","from":"bob","sent_at":"2025-01-02T12:04:00Z",
 "member":{"user":"bob","action":"left"},"cursor":"42"}]}`

func TestGroups(t *testing.T) {
	runCases(t, []cliCase{{
		name: "list is the default",
		args: []string{"groups", "--token", "t"},
		routes: map[string]reply{"GET /v1/groups": {200, `{"groups":[
			{"id":"ops","name":"Ops","owner":"alice","strategy":"shared"},
			{"id":"firehose","name":"Firehose","owner":"bob","strategy":"dedicated"}]}`}},
		wantReqs: []request{{"GET", "/v1/groups", "Bearer t", ""}},
		wantOut: "ID        NAME      OWNER  STRATEGY   MEMBERS\n" +
			"ops       Ops       alice  shared     -\n" +
			"firehose  Firehose  bob    dedicated  -\n",
	}, {
		name: "create",
		args: []string{"groups", "create", "--name", "Ops", "--member", "bob", "--id", "ops",
			"--token", "t"},
		routes: map[string]reply{"POST /v1/groups": {201, opsGroup}},
		wantReqs: []request{{"POST", "/v1/groups", "Bearer t",
			`{"name":"Ops","members":["bob"],"id":"ops"}`}},
		wantOut: opsGroupText,
	}, {
		name: "create with members repeated and comma-separated",
		args: []string{"groups", "create", "--name", "X", "--member", "b,c", "--member", "d",
			"--token", "t"},
		routes: map[string]reply{"POST /v1/groups": {201, opsGroup}},
		wantReqs: []request{{"POST", "/v1/groups", "Bearer t",
			`{"name":"X","members":["b","c","d"]}`}},
		wantOut: opsGroupText,
	}, {
		name:     "show",
		args:     []string{"groups", "show", "ops", "--token", "t"},
		routes:   map[string]reply{"GET /v1/groups/ops": {200, opsGroup}},
		wantReqs: []request{{"GET", "/v1/groups/ops", "Bearer t", ""}},
		wantOut:  opsGroupText,
	}, {
		name: "add with a role after the arguments",
		args: []string{"groups", "add", "ops", "dave", "--role", "admin", "--token", "t"},
		routes: map[string]reply{"POST /v1/groups/ops/members": {201,
			`{"user":"dave","role":"admin","joined_at":"2025-01-02T12:00:00Z"}`}},
		wantReqs: []request{{"POST", "/v1/groups/ops/members", "Bearer t",
			`{"user":"dave","role":"admin"}`}},
		wantOut: "added dave to ops as admin\n",
	}, {
		name:     "remove",
		args:     []string{"groups", "remove", "ops", "dave", "--token", "t"},
		routes:   map[string]reply{"DELETE /v1/groups/ops/members/dave": {204, ""}},
		wantReqs: []request{{"DELETE", "/v1/groups/ops/members/dave", "Bearer t", ""}},
		wantOut:  "removed dave from ops\n",
	}, {
		name: "leave removes the token's user",
		args: []string{"groups", "leave", "ops", "--token", "t"},
		routes: map[string]reply{
			"GET /v1/me":                          {200, `{"user":{"id":"carol"}}`},
			"DELETE /v1/groups/ops/members/carol": {204, ""},
		},
		wantReqs: []request{
			{"GET", "/v1/me", "Bearer t", ""},
			{"DELETE", "/v1/groups/ops/members/carol", "Bearer t", ""},
		},
		wantOut: "left ops\n",
	}, {
		name: "role",
		args: []string{"groups", "role", "ops", "dave", "admin", "--token", "t"},
		routes: map[string]reply{"PATCH /v1/groups/ops/members/dave": {200,
			`{"user":"dave","role":"admin"}`}},
		wantReqs: []request{{"PATCH", "/v1/groups/ops/members/dave", "Bearer t",
			`{"role":"admin"}`}},
		wantOut: "dave is now admin in ops\n",
	}, {
		name: "history with a page",
		args: []string{"groups", "history", "ops", "--limit", "3", "--before", "#43",
			"--token", "t"},
		routes:   map[string]reply{"GET /v1/groups/ops/messages": {200, groupPage}},
		wantReqs: []request{{"GET", "/v1/groups/ops/messages?before=43&limit=3", "Bearer t", ""}},
		wantOut: "2025-01-02 12:00:00 #40 alice added bob as admin\n" +
			"2025-01-02 12:03:04 #41 bob: hi↵all\n" +
			"2025-01-02 12:04:00 #42 bob left\n",
	}, {
		name:     "json prints the answer",
		args:     []string{"groups", "list", "--json", "--token", "t"},
		routes:   map[string]reply{"GET /v1/groups": {200, `{"groups":[]}`}},
		wantOut:  `{"groups":[]}` + "\n",
		wantReqs: []request{{"GET", "/v1/groups", "Bearer t", ""}},
	}, {
		name:     "not a member",
		args:     []string{"groups", "show", "nope", "--token", "t"},
		routes:   map[string]reply{"GET /v1/groups/nope": {404, notFoundGroup}},
		wantErr:  `parley: no group "nope" (group_not_found)`,
		wantCode: 1,
	}, {
		name:     "an unknown subcommand",
		args:     []string{"groups", "explode", "--token", "t"},
		wantReqs: []request{},
		wantErr:  `unknown groups subcommand "explode"`,
		wantCode: 2,
	}, {
		name:     "a missing argument",
		args:     []string{"groups", "add", "ops", "--token", "t"},
		wantReqs: []request{},
		wantErr:  "missing the group ID and the user",
		wantCode: 2,
	}, {
		name:     "an extra argument",
		args:     []string{"groups", "show", "ops", "more", "--token", "t"},
		wantReqs: []request{},
		wantErr:  `unexpected argument "more"`,
		wantCode: 2,
	}, {
		name:     "create without a name",
		args:     []string{"groups", "create", "--member", "bob", "--token", "t"},
		wantReqs: []request{},
		wantErr:  "missing --name NAME",
		wantCode: 2,
	}})
}

func TestGroupsHelp(t *testing.T) {
	res := runCLI(t, "", "groups", "--help")
	if res.code != 2 || !contains(res.stderr, "  leave", "Examples:", "parley groups create") {
		t.Errorf("exit code %d, stderr:\n%s", res.code, res.stderr)
	}
}

// contains reports whether s holds every one of subs.
func contains(s string, subs ...string) bool {
	for _, sub := range subs {
		if !strings.Contains(s, sub) {
			return false
		}
	}
	return true
}
