package main

import "testing"

const dmPage = `{"messages":[
{"id":"a","type":"message","conversation":"dm:alice:bob","from":"alice","body":"hi",
 "sent_at":"2025-01-02T12:03:04Z","cursor":"41"},
{"id":"b","type":"message","conversation":"dm:alice:bob","from":"bob","body":"\u001b[2Jhey",
 "sent_at":"2025-01-02T12:03:09Z","cursor":"42"}]}`

const conversations = `{"conversations":[
{"id":"dm:alice:bob","kind":"dm","peer":"bob","unread":2,"last":{"id":"b","type":"message",
 "conversation":"dm:alice:bob","from":"bob",
 "body":"see you at the standup tomorrow morning, bring coffee",
 "sent_at":"2025-01-02T12:03:09Z","cursor":"42"}},
{"id":"group:ops","kind":"group","name":"Ops","unread":0}]}`

const inbox = `{"unread":1,"notifications":[
{"id":"n2","title":"Build failed","body":"main is red","priority":"urgent",
 "created_at":"2025-01-02T12:05:00Z","read":false,"cursor":"9"},
{"id":"n1","body":"welcome","priority":"normal","created_at":"2025-01-01T08:00:00Z",
 "read":true,"cursor":"3"}]}`

func TestHistory(t *testing.T) {
	runCases(t, []cliCase{{
		name:     "newest page",
		args:     []string{"history", "--with", "bob", "--token", "t"},
		routes:   map[string]reply{"GET /v1/dm/bob/messages": {200, dmPage}},
		wantReqs: []request{{"GET", "/v1/dm/bob/messages", "Bearer t", ""}},
		wantOut: "2025-01-02 12:03:04 #41 alice: hi\n" +
			"2025-01-02 12:03:09 #42 bob: \\x1b[2Jhey\n",
	}, {
		name: "a page after a cursor",
		args: []string{"history", "--with", "bob", "--after", "40", "--limit", "2",
			"--token", "t"},
		routes:   map[string]reply{"GET /v1/dm/bob/messages": {200, `{"messages":[]}`}},
		wantReqs: []request{{"GET", "/v1/dm/bob/messages?after=40&limit=2", "Bearer t", ""}},
	}, {
		name:     "without --with",
		args:     []string{"history", "--token", "t"},
		wantReqs: []request{},
		wantErr:  "missing --with USER",
		wantCode: 2,
	}, {
		name:     "a negative limit",
		args:     []string{"history", "--with", "bob", "--limit", "-1", "--token", "t"},
		wantReqs: []request{},
		wantErr:  "--limit must not be negative",
		wantCode: 2,
	}, {
		name:     "a limit that is not a number",
		args:     []string{"history", "--with", "bob", "--limit", "ten", "--token", "t"},
		wantReqs: []request{},
		wantErr:  `invalid value "ten" for flag -limit`,
		wantCode: 2,
	}})
}

func TestConversations(t *testing.T) {
	runCases(t, []cliCase{{
		name:     "table",
		args:     []string{"conversations", "--token", "t"},
		routes:   map[string]reply{"GET /v1/conversations": {200, conversations}},
		wantReqs: []request{{"GET", "/v1/conversations", "Bearer t", ""}},
		wantOut: "CONVERSATION  WITH  UNREAD  LAST\n" +
			"dm:alice:bob  bob   2       2025-01-02 12:03:09 " +
			"bob: see you at the standup tomorrow morning, b…\n" +
			"group:ops     Ops   0       -\n",
	}})
}

func TestInbox(t *testing.T) {
	runCases(t, []cliCase{{
		name:     "unread marked",
		args:     []string{"inbox", "--limit", "2", "--token", "t"},
		routes:   map[string]reply{"GET /v1/notifications": {200, inbox}},
		wantReqs: []request{{"GET", "/v1/notifications?limit=2", "Bearer t", ""}},
		wantOut: "1 unread\n" +
			"* 2025-01-02 12:05:00 [urgent] Build failed — main is red  (n2)\n" +
			"  2025-01-01 08:00:00 welcome  (n1)\n",
	}})
}

func TestRead(t *testing.T) {
	runCases(t, []cliCase{{
		name:     "a direct conversation up to a cursor",
		args:     []string{"read", "--with", "bob", "#42", "--token", "t"},
		routes:   map[string]reply{"POST /v1/dm/bob/read": {204, ""}},
		wantReqs: []request{{"POST", "/v1/dm/bob/read", "Bearer t", `{"cursor":"42"}`}},
		wantOut:  "marked read\n",
	}, {
		name:     "a group",
		args:     []string{"read", "--group", "ops", "97", "--token", "t"},
		routes:   map[string]reply{"POST /v1/groups/ops/read": {204, ""}},
		wantReqs: []request{{"POST", "/v1/groups/ops/read", "Bearer t", `{"cursor":"97"}`}},
		wantOut:  "marked read\n",
	}, {
		name:     "a notification",
		args:     []string{"read", "--notification", "n1", "--token", "t"},
		routes:   map[string]reply{"POST /v1/notifications/n1/read": {204, ""}},
		wantReqs: []request{{"POST", "/v1/notifications/n1/read", "Bearer t", ""}},
		wantOut:  "marked read\n",
	}, {
		name:     "two targets",
		args:     []string{"read", "--with", "bob", "--group", "ops", "1", "--token", "t"},
		wantReqs: []request{},
		wantErr:  "give one of --with, --group and --notification",
		wantCode: 2,
	}, {
		name:     "no cursor",
		args:     []string{"read", "--with", "bob", "--token", "t"},
		wantReqs: []request{},
		wantErr:  "missing the cursor",
		wantCode: 2,
	}})
}
