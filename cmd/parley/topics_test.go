package main

import "testing"

// adminTopics is an answer of GET /v1/admin/topics in the shape
// internal/api's TopicInfo gives it.
const adminTopics = `{"topics":[
{"name":"direct-messages","replication_factor":1,"retention_ms":604800000,
 "partitions":[{"partition":0,"leader":0,"replicas":[0],"isr":[0],"start_offset":0,"end_offset":10},
               {"partition":1,"leader":0,"replicas":[0],"isr":[0],"start_offset":5,"end_offset":7}],
 "configs":{"cleanup.policy":"delete"},"consumer_lag":{"parley-archiver":3,"audit":0}},
{"name":"notifications","replication_factor":3,"retention_ms":-1,
 "partitions":[{"partition":0,"start_offset":0,"end_offset":0}]},
{"name":"group.big","replication_factor":3,"retention_ms":129600000,"partitions":[]}]}`

const topicsTable = `TOPIC            PARTITIONS  REPLICAS  RETENTION  RECORDS  LAG
direct-messages  2           1         7d         12       audit=0, parley-archiver=3
notifications    1           3         forever    0        -
group.big        0           3         36h        0        -
`

const updatedTopic = `{"name":"direct-messages","replication_factor":1,"retention_ms":259200000,
"partitions":[{"partition":0,"start_offset":0,"end_offset":1}]}`

func TestTopics(t *testing.T) {
	list := map[string]reply{"GET /v1/admin/topics": {200, adminTopics}}
	patch := map[string]reply{"PATCH /v1/admin/topics/direct-messages": {200, updatedTopic}}
	runCases(t, []cliCase{{
		name:     "list is the default",
		args:     []string{"topics", "--api-key", "k"},
		routes:   list,
		wantReqs: []request{{"GET", "/v1/admin/topics", "Bearer k", ""}},
		wantOut:  topicsTable,
	}, {
		name:    "list",
		args:    []string{"topics", "list", "--api-key", "k"},
		routes:  list,
		wantOut: topicsTable,
	}, {
		name: "set retention and partitions",
		args: []string{"topics", "set", "direct-messages", "--retention", "72h",
			"--partitions", "12", "--api-key", "k"},
		routes: patch,
		wantReqs: []request{{"PATCH", "/v1/admin/topics/direct-messages", "Bearer k",
			`{"retention_ms":259200000,"partitions":12}`}},
		wantOut: "TOPIC            PARTITIONS  REPLICAS  RETENTION  RECORDS  LAG\n" +
			"direct-messages  1           1         3d         1        -\n",
	}, {
		name: "set retention in days",
		args: []string{"topics", "set", "direct-messages", "--retention", "3d",
			"--api-key", "k", "--json"},
		routes: patch,
		wantReqs: []request{{"PATCH", "/v1/admin/topics/direct-messages", "Bearer k",
			`{"retention_ms":259200000}`}},
		wantOut: updatedTopic + "\n",
	}, {
		name: "set retention forever",
		args: []string{"topics", "set", "direct-messages", "--retention", "forever",
			"--api-key", "k", "--json"},
		routes: patch,
		wantReqs: []request{{"PATCH", "/v1/admin/topics/direct-messages", "Bearer k",
			`{"retention_ms":-1}`}},
		wantOut: updatedTopic + "\n",
	}, {
		name: "an unknown topic",
		args: []string{"topics", "set", "nope", "--partitions", "2", "--api-key", "k"},
		routes: map[string]reply{"PATCH /v1/admin/topics/nope": {404,
			`{"error":{"code":"topic_not_found","message":"no topic \"nope\""}}`}},
		wantErr:  `parley: no topic "nope" (topic_not_found)`,
		wantCode: 1,
	}, {
		name:     "nothing to change",
		args:     []string{"topics", "set", "direct-messages", "--api-key", "k"},
		wantReqs: []request{},
		wantErr:  "nothing to change",
		wantCode: 2,
	}, {
		name: "a bad retention",
		args: []string{"topics", "set", "direct-messages", "--retention", "a while",
			"--api-key", "k"},
		wantReqs: []request{},
		wantErr:  `--retention "a while"`,
		wantCode: 2,
	}, {
		name:     "without the API key",
		args:     []string{"topics", "--token", "user"},
		wantReqs: []request{},
		wantErr:  "no API key",
		wantCode: 2,
	}})
}

func TestFormatRetention(t *testing.T) {
	tests := []struct {
		ms   int64
		want string
	}{
		{-1, "forever"},
		{0, "0s"},
		{45_000, "45s"},
		{60_000, "1m"},
		{90 * 60_000, "1h30m"},
		{10 * 3_600_000, "10h"},
		{36 * 3_600_000, "36h"},
		{7 * 86_400_000, "7d"},
		{1_500, "1.5s"},
	}
	for _, tc := range tests {
		if got := formatRetention(tc.ms); got != tc.want {
			t.Errorf("formatRetention(%d) = %q, want %q", tc.ms, got, tc.want)
		}
	}
}

func TestParseRetention(t *testing.T) {
	tests := []struct {
		in      string
		want    int64
		wantErr bool
	}{
		{"72h", 259_200_000, false},
		{"7d", 604_800_000, false},
		{"90m", 5_400_000, false},
		{"forever", -1, false},
		{"-1", -1, false},
		{"0s", 0, true},
		{"xd", 0, true},
		{"soon", 0, true},
	}
	for _, tc := range tests {
		got, err := parseRetention(tc.in)
		if got != tc.want || (err != nil) != tc.wantErr {
			t.Errorf("parseRetention(%q) = %d, %v; want %d, error %v", tc.in, got, err, tc.want,
				tc.wantErr)
		}
	}
}
