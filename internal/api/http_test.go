package api

import (
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/parley-chat/parley/internal/parley"
)

func TestRegisterLoginMe(t *testing.T) {
	e := newEnv(t, envOptions{})
	tok := e.register("alice")

	r := e.call("POST", "/v1/auth/login", "", credentials{"alice", "password123"})
	expect(t, r, http.StatusOK)
	var s session
	r.json(t, &s)
	if s.Token == "" || s.User.ID != "alice" || !s.ExpiresAt.After(time.Now()) {
		t.Fatalf("login answer %+v", s)
	}

	for _, tok := range []string{tok, s.Token} {
		r = e.call("GET", "/v1/me", tok, nil)
		expect(t, r, http.StatusOK)
		var out struct{ User parley.User }
		r.json(t, &out)
		if out.User.ID != "alice" {
			t.Fatalf("me = %+v", out.User)
		}
	}

	t.Run("wrong password is 401", func(t *testing.T) {
		r := e.call("POST", "/v1/auth/login", "", credentials{"alice", "wrong-password"})
		expect(t, r, http.StatusUnauthorized)
		if r.errCode(t) != "invalid_credentials" || r.header.Get("WWW-Authenticate") == "" {
			t.Fatalf("got %s %v", r.body, r.header)
		}
	})
	t.Run("taken username is 409", func(t *testing.T) {
		r := e.call("POST", "/v1/auth/register", "", credentials{"alice", "password123"})
		expect(t, r, http.StatusConflict)
	})
	t.Run("short password is 400", func(t *testing.T) {
		r := e.call("POST", "/v1/auth/register", "", credentials{"bob", "short"})
		expect(t, r, http.StatusBadRequest)
	})
	t.Run("search finds the user", func(t *testing.T) {
		r := e.call("GET", "/v1/users?prefix=ali", tok, nil)
		expect(t, r, http.StatusOK)
		if !strings.Contains(string(r.body), `"alice"`) {
			t.Fatalf("search: %s", r.body)
		}
	})
}

func TestTokens(t *testing.T) {
	e := newEnv(t, envOptions{})
	now := time.Now()
	valid := jwt.RegisteredClaims{Subject: "carol", ExpiresAt: jwt.NewNumericDate(now.Add(time.Hour))}

	t.Run("minted token creates the user", func(t *testing.T) {
		r := e.call("GET", "/v1/me", mint(t, valid), nil)
		expect(t, r, http.StatusOK)
	})

	none, _ := jwt.NewWithClaims(jwt.SigningMethodNone, valid).SignedString(jwt.UnsafeAllowNoneSignatureType)
	hs512, _ := jwt.NewWithClaims(jwt.SigningMethodHS512, valid).SignedString([]byte(testSecret))
	forged, _ := jwt.NewWithClaims(jwt.SigningMethodHS256, valid).SignedString([]byte("another-secret-entirely"))
	cases := []struct {
		name, token, code string
	}{
		{"no token", "", "unauthenticated"},
		{"expired", mint(t, jwt.RegisteredClaims{Subject: "carol",
			ExpiresAt: jwt.NewNumericDate(now.Add(-time.Minute))}), "token_expired"},
		{"no exp", mint(t, jwt.RegisteredClaims{Subject: "carol"}), "invalid_token"},
		{"forged", forged, "invalid_token"},
		{"alg none", none, "invalid_token"},
		{"other alg", hs512, "invalid_token"},
		{"malformed", "not.a.token", "invalid_token"},
		{"invalid sub", mint(t, jwt.RegisteredClaims{Subject: "Not Valid",
			ExpiresAt: jwt.NewNumericDate(now.Add(time.Hour))}), "invalid_token"},
	}
	for _, c := range cases {
		t.Run(c.name+" is 401", func(t *testing.T) {
			r := e.call("GET", "/v1/me", c.token, nil)
			expect(t, r, http.StatusUnauthorized)
			if got := r.errCode(t); got != c.code {
				t.Fatalf("code %q, want %q", got, c.code)
			}
			if !strings.HasPrefix(r.header.Get("WWW-Authenticate"), "Bearer") {
				t.Fatalf("WWW-Authenticate = %q", r.header.Get("WWW-Authenticate"))
			}
		})
	}

	t.Run("user token on server route is 403", func(t *testing.T) {
		r := e.call("POST", "/v1/notifications", mint(t, valid), map[string]any{"to": "carol", "body": "x"})
		expect(t, r, http.StatusForbidden)
		if r.errCode(t) != "server_key_required" {
			t.Fatalf("got %s", r.body)
		}
	})
	t.Run("api key on user route is 403", func(t *testing.T) {
		r := e.call("GET", "/v1/me", testAPIKey, nil)
		expect(t, r, http.StatusForbidden)
		if r.errCode(t) != "user_token_required" {
			t.Fatalf("got %s", r.body)
		}
	})
	t.Run("wrong key on server route is 401", func(t *testing.T) {
		r := e.call("GET", "/v1/admin/topics", "wrong-key", nil)
		expect(t, r, http.StatusUnauthorized)
	})
	t.Run("admin without TopicAdmin is 503", func(t *testing.T) {
		r := e.call("GET", "/v1/admin/topics", testAPIKey, nil)
		expect(t, r, http.StatusServiceUnavailable)
	})
}

func TestDMRoundTrip(t *testing.T) {
	e := newEnv(t, envOptions{})
	alice, bob := e.register("alice"), e.register("bob")

	sent := e.sendDM(alice, "bob", "hello bob")
	if sent.ID == "" || sent.From != "alice" || sent.Conversation != "dm:alice:bob" {
		t.Fatalf("sent %+v", sent)
	}
	e.sendDM(bob, "alice", "hi alice")
	e.sendDM(alice, "bob", "how are you")

	var page struct{ Messages []parley.Message }
	waitFor(t, "history", func() bool {
		r := e.call("GET", "/v1/dm/alice/messages", bob, nil)
		expect(t, r, http.StatusOK)
		r.json(t, &page)
		return len(page.Messages) == 3
	})
	if page.Messages[0].Body != "hello bob" || page.Messages[2].Body != "how are you" {
		t.Fatalf("history not oldest first: %+v", page.Messages)
	}

	// The cursor of a partition's first record is 0, which reads as "no
	// cursor", so the paging checks use the second message's.
	cursor := parley.FormatSeq(page.Messages[1].Seq)
	r := e.call("GET", "/v1/dm/bob/messages?after="+cursor, alice, nil)
	expect(t, r, http.StatusOK)
	r.json(t, &page)
	if len(page.Messages) != 1 || page.Messages[0].Body != "how are you" {
		t.Fatalf("after cursor: %+v", page.Messages)
	}
	r = e.call("GET", "/v1/dm/bob/messages?limit=1&before="+cursor, alice, nil)
	expect(t, r, http.StatusOK)
	r.json(t, &page)
	if len(page.Messages) != 1 || page.Messages[0].Body != "hello bob" {
		t.Fatalf("before cursor: %+v", page.Messages)
	}

	r = e.call("POST", "/v1/dm/alice/read", bob, readBody{Cursor: cursor})
	expect(t, r, http.StatusNoContent)

	r = e.call("GET", "/v1/conversations", bob, nil)
	expect(t, r, http.StatusOK)
	if !strings.Contains(string(r.body), "dm:alice:bob") {
		t.Fatalf("conversations: %s", r.body)
	}

	t.Run("idempotent send", func(t *testing.T) {
		a := e.call("POST", "/v1/dm/bob/messages", alice, sendBody{Body: "once", ClientID: "c1"})
		b := e.call("POST", "/v1/dm/bob/messages", alice, sendBody{Body: "once", ClientID: "c1"})
		var ma, mb parley.Message
		a.json(t, &ma)
		b.json(t, &mb)
		if ma.ID != mb.ID || ma.Seq != mb.Seq {
			t.Fatalf("retry gave another message: %+v %+v", ma, mb)
		}
	})
}

func TestGroups(t *testing.T) {
	e := newEnv(t, envOptions{})
	alice, bob, carol := e.register("alice"), e.register("bob"), e.register("carol")

	r := e.call("POST", "/v1/groups", alice, newGroupBody{ID: "team", Name: "Team", Members: []string{"bob"}})
	expect(t, r, http.StatusCreated)
	var g groupJSON
	r.json(t, &g)
	if g.ID != "team" || g.Owner != "alice" || len(g.Members) != 2 {
		t.Fatalf("created %+v", g)
	}

	expect(t, e.call("POST", "/v1/groups/team/messages", bob, sendBody{Body: "hi team"}), http.StatusCreated)
	r = e.call("GET", "/v1/groups/team/messages", carol, nil)
	expect(t, r, http.StatusNotFound)

	r = e.call("POST", "/v1/groups/team/members", alice, memberBody{User: "carol"})
	expect(t, r, http.StatusCreated)
	r = e.call("PATCH", "/v1/groups/team/members/carol", alice, roleBody{Role: "admin"})
	expect(t, r, http.StatusOK)
	r = e.call("GET", "/v1/groups/team", carol, nil)
	expect(t, r, http.StatusOK)
	r = e.call("GET", "/v1/groups", carol, nil)
	expect(t, r, http.StatusOK)
	if !strings.Contains(string(r.body), `"team"`) {
		t.Fatalf("groups: %s", r.body)
	}

	waitFor(t, "group history", func() bool {
		r := e.call("GET", "/v1/groups/team/messages", carol, nil)
		return r.status == http.StatusOK && strings.Contains(string(r.body), "hi team")
	})
	expect(t, e.call("DELETE", "/v1/groups/team/members/bob", bob, nil), http.StatusNoContent)
	expect(t, e.call("GET", "/v1/groups/team", bob, nil), http.StatusNotFound)

	t.Run("member cannot add", func(t *testing.T) {
		expect(t, e.call("POST", "/v1/groups/team/members", bob, memberBody{User: "bob"}), http.StatusNotFound)
	})
	t.Run("owner cannot leave", func(t *testing.T) {
		expect(t, e.call("DELETE", "/v1/groups/team/members/alice", alice, nil), http.StatusConflict)
	})
	t.Run("admin cannot change roles", func(t *testing.T) {
		expect(t, e.call("PATCH", "/v1/groups/team/members/alice", carol, roleBody{Role: "member"}),
			http.StatusForbidden)
	})
	t.Run("missing user field", func(t *testing.T) {
		expect(t, e.call("POST", "/v1/groups/team/members", alice, map[string]string{}), http.StatusBadRequest)
	})
}

func TestNotifications(t *testing.T) {
	e := newEnv(t, envOptions{})
	dave := e.register("dave")

	r := e.call("POST", "/v1/notifications", testAPIKey, map[string]any{
		"to": "dave", "title": "Build", "body": "green", "ttl": "10m", "data": map[string]int{"n": 1},
	})
	expect(t, r, http.StatusCreated)
	var n parley.Notification
	r.json(t, &n)
	if n.ID == "" || n.ExpiresAt.IsZero() {
		t.Fatalf("notification %+v", n)
	}

	var inbox struct {
		Notifications []parley.Notification
		Unread        int
	}
	waitFor(t, "inbox", func() bool {
		r := e.call("GET", "/v1/notifications", dave, nil)
		expect(t, r, http.StatusOK)
		r.json(t, &inbox)
		return len(inbox.Notifications) == 1
	})
	if inbox.Unread != 1 {
		t.Fatalf("unread %d", inbox.Unread)
	}
	expect(t, e.call("POST", "/v1/notifications/"+n.ID+"/read", dave, nil), http.StatusNoContent)
	expect(t, e.call("POST", "/v1/notifications/nope/read", dave, nil), http.StatusNotFound)

	bad := []struct {
		name string
		body map[string]any
		code string
	}{
		{"no recipient", map[string]any{"body": "x"}, "missing_field"},
		{"bad recipient", map[string]any{"to": 5, "body": "x"}, "invalid_recipient"},
		{"unknown user", map[string]any{"to": "nobody", "body": "x"}, "user_not_found"},
		{"bad ttl", map[string]any{"to": "dave", "body": "x", "ttl": "soon"}, "invalid_ttl"},
		{"bad priority", map[string]any{"to": "dave", "body": "x", "priority": "max"}, "invalid_priority"},
		{"empty", map[string]any{"to": "dave"}, "empty_notification"},
	}
	for _, c := range bad {
		t.Run(c.name+" is refused", func(t *testing.T) {
			r := e.call("POST", "/v1/notifications", testAPIKey, c.body)
			if r.status/100 != 4 || r.errCode(t) != c.code {
				t.Fatalf("got %d %s, want code %s", r.status, r.body, c.code)
			}
		})
	}
}

// TestErrorCatalogue covers the errors a request can cause by its form.
func TestErrorCatalogue(t *testing.T) {
	e := newEnv(t, envOptions{})
	alice := e.register("alice")
	e.register("bob")

	big := `{"body":"` + strings.Repeat("a", maxRequestBytes) + `"}`
	cases := []struct {
		name, method, path, body string
		status                   int
		code                     string
	}{
		{"too large", "POST", "/v1/dm/bob/messages", big, 413, "request_too_large"},
		{"invalid utf8", "POST", "/v1/dm/bob/messages", "{\"body\":\"\xff\xfe\"}", 400, "invalid_utf8"},
		{"invalid json", "POST", "/v1/dm/bob/messages", `{"body":`, 400, "invalid_json"},
		{"syntax error", "POST", "/v1/dm/bob/messages", `{"body" "x"}`, 400, "invalid_json"},
		{"unknown field", "POST", "/v1/dm/bob/messages", `{"body":"x","colour":1}`, 400, "invalid_json"},
		{"wrong type", "POST", "/v1/dm/bob/messages", `{"body":5}`, 400, "invalid_json"},
		{"not an object", "POST", "/v1/dm/bob/messages", `[1]`, 400, "invalid_json"},
		{"trailing data", "POST", "/v1/dm/bob/messages", `{"body":"x"} {}`, 400, "invalid_json"},
		{"empty body", "POST", "/v1/dm/bob/messages", ``, 400, "invalid_json"},
		{"empty message", "POST", "/v1/dm/bob/messages", `{"body":"  "}`, 400, "empty_body"},
		{"message too large", "POST", "/v1/dm/bob/messages",
			`{"body":"` + strings.Repeat("a", parley.MaxBodyBytes+1) + `"}`, 413, "body_too_large"},
		{"unknown recipient", "POST", "/v1/dm/nobody/messages", `{"body":"x"}`, 404, "user_not_found"},
		{"bad limit", "GET", "/v1/dm/bob/messages?limit=x", ``, 400, "invalid_limit"},
		{"limit too big", "GET", "/v1/dm/bob/messages?limit=100000", ``, 400, "invalid_limit"},
		{"bad before", "GET", "/v1/dm/bob/messages?before=-1", ``, 400, "invalid_cursor"},
		{"bad after", "GET", "/v1/dm/bob/messages?after=z", ``, 400, "invalid_cursor"},
		{"missing cursor", "POST", "/v1/dm/bob/read", `{}`, 400, "invalid_cursor"},
		{"unknown group", "GET", "/v1/groups/nope", ``, 404, "group_not_found"},
		{"bad group id", "POST", "/v1/groups", `{"id":"Bad Id","name":"x"}`, 400, "invalid_group_id"},
		{"bad strategy", "POST", "/v1/groups", `{"name":"x","strategy":"huge"}`, 400, "invalid_strategy"},
		{"unknown route", "GET", "/v1/nothing", ``, 404, "not_found"},
		{"unknown notification", "POST", "/v1/notifications/x/read", ``, 404, "notification_not_found"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := e.do(c.method, c.path, alice, []byte(c.body))
			if r.status != c.status || r.errCode(t) != c.code {
				t.Fatalf("got %d %s, want %d %s", r.status, r.body, c.status, c.code)
			}
			if ct := r.header.Get("Content-Type"); ct != "application/json" {
				t.Fatalf("content type %q", ct)
			}
		})
	}
}

func TestOpsRoutes(t *testing.T) {
	e := newEnv(t, envOptions{admin: true})
	expect(t, e.do("GET", "/healthz", "", nil), http.StatusOK)
	expect(t, e.do("GET", "/readyz", "", nil), http.StatusOK)
	expect(t, e.do("GET", "/", "", nil), http.StatusOK)

	r := e.do("GET", "/metrics", "", nil)
	expect(t, r, http.StatusOK)
	for _, name := range []string{"parley_http_requests_total", "parley_http_request_seconds",
		"parley_ws_connections", "parley_live_connections"} {
		if !strings.Contains(string(r.body), name) {
			t.Errorf("metrics lack %s", name)
		}
	}

	r = e.do("GET", "/v1/admin/topics", testAPIKey, nil)
	expect(t, r, http.StatusOK)
	if !strings.Contains(string(r.body), `"direct-messages"`) {
		t.Fatalf("topics: %s", r.body)
	}
	r = e.call("PATCH", "/v1/admin/topics/notifications", testAPIKey, map[string]any{"retention_ms": 3600000})
	expect(t, r, http.StatusOK)
	var ti TopicInfo
	r.json(t, &ti)
	if ti.RetentionMs != 3600000 {
		t.Fatalf("retention %d", ti.RetentionMs)
	}
	expect(t, e.call("PATCH", "/v1/admin/topics/notifications", testAPIKey, map[string]any{}),
		http.StatusBadRequest)
	expect(t, e.call("PATCH", "/v1/admin/topics/notifications", testAPIKey,
		map[string]any{"partitions": 0}), http.StatusBadRequest)
}

func TestVerifiedTokenExpiresFromTheCache(t *testing.T) {
	now := time.Now().Truncate(time.Second)
	s := &Server{secret: []byte(testSecret), now: func() time.Time { return now },
		tokens: newBoundedCache[verifiedToken](maxVerifiedTokens)}
	tok := mint(t, jwt.RegisteredClaims{Subject: "carol",
		ExpiresAt: jwt.NewNumericDate(now.Add(time.Minute))})

	for range 2 { // verified, then from the cache
		if sub, _, err := s.parseToken(tok); err != nil || sub != "carol" {
			t.Fatalf("parseToken of a valid token = %q, %v", sub, err)
		}
	}
	if _, ok := s.tokens.get(tok); !ok {
		t.Fatal("a verified token is not cached")
	}
	now = now.Add(time.Minute)
	if _, _, err := s.parseToken(tok); !errors.Is(err, errTokenExpired) {
		t.Fatalf("parseToken of a cached token past its exp: %v, want errTokenExpired", err)
	}
	forged, _ := jwt.NewWithClaims(jwt.SigningMethodHS256, jwt.RegisteredClaims{Subject: "carol",
		ExpiresAt: jwt.NewNumericDate(now.Add(time.Hour))}).SignedString([]byte("another-secret-entirely"))
	s.parseToken(forged)
	if _, ok := s.tokens.get(forged); ok {
		t.Fatal("a forged token is cached")
	}
}
