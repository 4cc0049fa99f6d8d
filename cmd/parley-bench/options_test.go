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

func TestCheckBroadcast(t *testing.T) {
	for _, tc := range []struct {
		status int
		body   string
		want   string // "" for success
	}{
		{200, `{"result":{"responses":[{"result":{}},{"result":{}}]}}`, ""},
		{200, `{"result":{"responses":[{"result":{"offset":3,"epoch":"x"}},{"result":{}}]}}`, ""},
		{200, `{"result":{"responses":[{"result":{}},{"error":{"code":102,"message":"unknown channel"}}]}}`,
			"unknown channel"},
		{200, `{"error":{"code":107,"message":"bad request"}}`, "bad request"},
		{200, `not json`, "decode"},
		{401, ``, "status 401"},
	} {
		err := checkBroadcast(tc.status, []byte(tc.body))
		switch {
		case tc.want == "" && err != nil:
			t.Errorf("checkBroadcast(%d, %s) = %v, want nil", tc.status, tc.body, err)
		case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
			t.Errorf("checkBroadcast(%d, %s) = %v, want an error containing %q",
				tc.status, tc.body, err, tc.want)
		}
	}
}
