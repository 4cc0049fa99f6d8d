package main

import (
	"io"
	"strings"
	"testing"
)

func TestParseOptionsRefusals(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--dm-to", "all"}, `--dm-to "all": want both or recipient`},
		{[]string{"--dm-to", "recipient"}, "--dm-to recipient is for Centrifugo"},
		{[]string{"--shard", "2/2"}, `--shard "2/2": want i/n`},
		{[]string{"--rates", "10,x"}, `--rates: bad rate "x"`},
	} {
		args := append([]string{"--jwt-secret", "s"}, tc.args...)
		_, err := parseOptions("dm", args, io.Discard)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("parse %v: error %v, want one containing %q", tc.args, err, tc.want)
		}
	}

	o, err := parseOptions("dm", []string{"--jwt-secret", "s", "--target", "centrifugo",
		"--dm-to", "recipient"}, io.Discard)
	if err != nil || o.dmTo != "recipient" {
		t.Fatalf("parse --dm-to recipient for Centrifugo: %+v, %v", o, err)
	}
}

func TestCheckAPIAnswers(t *testing.T) {
	for _, tc := range []struct {
		check  func(int, []byte) error
		status int
		body   string
		want   string // "" for success
	}{
		{checkPublish, 200, `{"result":{}}`, ""},
		{checkPublish, 200, `{"result":{"offset":7}}`, ""},
		{checkPublish, 200, `{"error":{"code":102,"message":"unknown channel"}}`, "publish: "},
		{checkBroadcast, 200, `{"result":{"responses":[{"result":{}},{"result":{}}]}}`, ""},
		{checkBroadcast, 200, `{"result":{"responses":[{"result":{"offset":3}},{"result":{}}]}}`, ""},
		{checkBroadcast, 200,
			`{"result":{"responses":[{"result":{}},{"error":{"code":102,"message":"unknown channel"}}]}}`,
			"broadcast: "},
		{checkBroadcast, 200, `{"error":{"code":107,"message":"bad request"}}`, "bad request"},
		{checkBroadcast, 200, `not json`, "decode"},
		{checkBroadcast, 401, ``, "status 401"},
	} {
		err := tc.check(tc.status, []byte(tc.body))
		switch {
		case tc.want == "" && err != nil:
			t.Errorf("check(%d, %s) = %v, want nil", tc.status, tc.body, err)
		case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
			t.Errorf("check(%d, %s) = %v, want an error containing %q",
				tc.status, tc.body, err, tc.want)
		}
	}
}
