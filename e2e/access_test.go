package e2e

import (
	"encoding/base64"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

const testSecret = "test-secret-for-e2e-tests-only"

func mint(t *testing.T, secret, sub string, exp time.Time) string {
	t.Helper()
	tok, err := jwt.NewWithClaims(jwt.SigningMethodHS256, jwt.MapClaims{
		"sub": sub, "exp": exp.Unix(), "iat": time.Now().Unix(),
	}).SignedString([]byte(secret))
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// The access matrix: who may read and post where, and what the others get.
func TestAccessMatrix(t *testing.T) {
	s := StartServer(t)
	alice, bob, carol := s.Register(t, "alice"), s.Register(t, "bob"), s.Register(t, "carol")
	dave := s.Register(t, "dave")
	alice.SendDM(t, "bob", "private", "")
	var g struct {
		ID string `json:"id"`
	}
	alice.Call(t, "POST", "/v1/groups", map[string]any{"name": "g", "members": []string{"bob", "dave"}}, &g)
	if code := alice.Call(t, "DELETE", "/v1/groups/"+g.ID+"/members/dave", nil, nil); code != 204 {
		t.Fatalf("remove dave: %d", code)
	}
	alice.Call(t, "POST", "/v1/groups/"+g.ID+"/messages", map[string]string{"body": "members only"}, nil)

	noneAlg := base64.RawURLEncoding.EncodeToString([]byte(`{"alg":"none","typ":"JWT"}`)) + "." +
		base64.RawURLEncoding.EncodeToString([]byte(`{"sub":"alice","exp":9999999999}`)) + "."
	tests := []struct {
		name, token, method, path string
		body                      any
		want                      int
	}{
		{"no token", "", "GET", "/v1/conversations", nil, 401},
		{"expired token", mint(t, testSecret, "alice", time.Now().Add(-time.Minute)), "GET",
			"/v1/conversations", nil, 401},
		{"forged token", mint(t, "not-the-secret", "alice", time.Now().Add(time.Hour)), "GET",
			"/v1/dm/bob/messages", nil, 401},
		{"unsigned token", noneAlg, "GET", "/v1/dm/bob/messages", nil, 401},
		{"garbage token", "abc.def", "GET", "/v1/conversations", nil, 401},
		{"non-member reads group", carol.Token, "GET", "/v1/groups/" + g.ID + "/messages", nil, 404},
		{"non-member posts to group", carol.Token, "POST", "/v1/groups/" + g.ID + "/messages",
			map[string]string{"body": "hi"}, 404},
		{"removed member reads group", dave.Token, "GET", "/v1/groups/" + g.ID + "/messages", nil, 404},
		{"removed member posts", dave.Token, "POST", "/v1/groups/" + g.ID + "/messages",
			map[string]string{"body": "hi"}, 404},
		{"non-member adds a member", carol.Token, "POST", "/v1/groups/" + g.ID + "/members",
			map[string]string{"user": "carol"}, 404},
		{"member removes another", bob.Token, "DELETE", "/v1/groups/" + g.ID + "/members/alice", nil, 403},
		{"user token on server API", alice.Token, "POST", "/v1/notifications",
			map[string]any{"to": "bob", "body": "x"}, 403},
		{"user token on admin API", alice.Token, "GET", "/v1/admin/topics", nil, 403},
		{"API key on user API", s.APIKey, "GET", "/v1/conversations", nil, 403},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var body []byte
			if tt.body != nil {
				body, _ = json.Marshal(tt.body)
			}
			code, resp := s.Request(t, tt.token, tt.method, tt.path, body)
			if code != tt.want {
				t.Fatalf("status %d, want %d: %s", code, tt.want, resp)
			}
			if strings.Contains(string(resp), "private") || strings.Contains(string(resp), "members only") {
				t.Fatalf("response leaks data: %s", resp)
			}
			var e struct {
				Error struct{ Code, Message string } `json:"error"`
			}
			if json.Unmarshal(resp, &e) != nil || e.Error.Code == "" {
				t.Fatalf("no JSON error body: %s", resp)
			}
		})
	}

	// A third user sees nothing of alice and bob's DM: their own DM with
	// either is empty, and the conversation list does not show it.
	if h := carol.History(t, "/v1/dm/bob"); len(h) != 0 {
		t.Errorf("carol sees %d messages", len(h))
	}
	var convs struct {
		Conversations []struct{ ID string } `json:"conversations"`
	}
	carol.Call(t, "GET", "/v1/conversations", nil, &convs)
	for _, c := range convs.Conversations {
		if c.ID == "dm:alice:bob" {
			t.Error("carol's conversation list shows alice and bob's DM")
		}
	}

	// A removed member gets no live messages of the group; an outsider
	// none of a DM.
	daveWS, carolWS := dave.DialWS(t, ""), carol.DialWS(t, "")
	daveWS.NextOfType("ready", 10*time.Second)
	carolWS.NextOfType("ready", 10*time.Second)
	alice.Call(t, "POST", "/v1/groups/"+g.ID+"/messages", map[string]string{"body": "still members only"}, nil)
	alice.SendDM(t, "bob", "still private", "")
	daveWS.Quiet(time.Second)
	carolWS.Quiet(10 * time.Millisecond)

	// A token minted by an app backend with the secret works, and its user
	// exists from then on.
	erin := &User{Name: "erin", s: s, Token: mint(t, testSecret, "erin", time.Now().Add(time.Hour))}
	if code := erin.Call(t, "GET", "/v1/me", nil, nil); code != 200 {
		t.Fatalf("minted token: %d", code)
	}
	alice.SendDM(t, "erin", "welcome", "")
}
