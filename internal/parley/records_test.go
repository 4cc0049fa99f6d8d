package parley

import (
	"errors"
	"slices"
	"strings"
	"testing"
	"time"
)

var testCodec = Codec{Topics: DefaultTopics}

func notifRecord(key, value string) *Record {
	r := &Record{Topic: "notifications", Partition: 1, Offset: 7, Value: []byte(value),
		Time: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)}
	if key != "" {
		r.Key = []byte(key)
	}
	return r
}

func TestParseNotification(t *testing.T) {
	tests := []struct {
		name     string
		key      string
		value    string
		to       []string
		title    string
		body     string
		priority string
		id       string
		expires  bool
	}{
		{name: "plain text with key goes to the key", key: "bob", value: "deploy done\n",
			to: []string{"bob"}, body: "deploy done", priority: "normal"},
		{name: "plain text without key goes to everyone", value: "maintenance at noon",
			body: "maintenance at noon", priority: "normal"},
		{name: "envelope to one", value: `{"to":"bob","title":"Hi","body":"there","id":"k1"}`,
			to: []string{"bob"}, title: "Hi", body: "there", priority: "normal", id: "k1"},
		{name: "envelope to many overrides key", key: "zed",
			value: `{"to":["a","b"],"body":"x","priority":"high"}`,
			to:    []string{"a", "b"}, body: "x", priority: "high"},
		{name: "envelope without to takes the key", key: "carol", value: `{"title":"t"}`,
			to: []string{"carol"}, title: "t", priority: "normal"},
		{name: "star goes to everyone", key: "carol", value: `{"to":"*","body":"all"}`,
			body: "all", priority: "normal"},
		{name: "ttl in seconds sets expiry", value: `{"to":"a","body":"x","ttl":60}`,
			to: []string{"a"}, body: "x", priority: "normal", expires: true},
		{name: "ttl as duration sets expiry", value: `{"to":"a","body":"x","ttl":"5m"}`,
			to: []string{"a"}, body: "x", priority: "normal", expires: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			n, err := ParseNotification(notifRecord(tt.key, tt.value))
			if err != nil {
				t.Fatalf("ParseNotification: %v", err)
			}
			if !slices.Equal(n.To, tt.to) || n.Title != tt.title || n.Body != tt.body ||
				n.Priority != tt.priority {
				t.Errorf("got to=%v title=%q body=%q priority=%q", n.To, n.Title, n.Body, n.Priority)
			}
			if tt.id != "" && n.ID != tt.id {
				t.Errorf("id = %q, want %q", n.ID, tt.id)
			}
			if n.ID == "" {
				t.Error("no id")
			}
			if n.ExpiresAt.IsZero() == tt.expires {
				t.Errorf("expires_at = %v, want set: %v", n.ExpiresAt, tt.expires)
			}
		})
	}
}

func TestParseNotificationDerivesStableID(t *testing.T) {
	a, _ := ParseNotification(notifRecord("bob", "x"))
	b, _ := ParseNotification(notifRecord("bob", "x"))
	c := notifRecord("bob", "x")
	c.Offset++
	cn, _ := ParseNotification(c)
	if a.ID != b.ID || a.ID == cn.ID {
		t.Errorf("ids %q %q %q: want the first two equal and the third different", a.ID, b.ID, cn.ID)
	}
}

func TestParseNotificationRefuses(t *testing.T) {
	tests := []struct {
		name, key, value, reason string
	}{
		{"empty value", "bob", "", "empty_notification"},
		{"broken json", "bob", `{"to":`, "invalid_json"},
		{"invalid utf8", "bob", "caf\xe9", "invalid_utf8"},
		{"bad recipient", "", `{"to":"Bob!","body":"x"}`, "invalid_recipient"},
		{"bad key recipient", "no spaces", "hello", "invalid_recipient"},
		{"to of wrong type", "", `{"to":5,"body":"x"}`, "invalid_recipient"},
		{"empty to list", "", `{"to":[],"body":"x"}`, "invalid_recipient"},
		{"bad priority", "a", `{"body":"x","priority":"asap"}`, "invalid_priority"},
		{"bad ttl", "a", `{"body":"x","ttl":-3}`, "invalid_ttl"},
		{"too large", "a", strings.Repeat("x", MaxRecordBytes+1), "too_large"},
		{"body too large", "a", strings.Repeat("x", MaxBodyBytes+1), "too_large"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParseNotification(notifRecord(tt.key, tt.value))
			var d *DeadLetterError
			if !errors.As(err, &d) || d.Reason != tt.reason {
				t.Fatalf("err = %v, want dead letter %q", err, tt.reason)
			}
		})
	}
}

func TestEntryRoundTrip(t *testing.T) {
	m := &Message{ID: "m1", Type: TypeMessage, Conversation: DMConversation("bob", "alice"),
		From: "alice", Body: "hi", ClientID: "c1", SentAt: time.Now().UTC()}
	rec := testCodec.EntryRecord(m, "")
	if rec.Topic != "direct-messages" || string(rec.Key) != "dm:alice:bob" {
		t.Fatalf("topic %q key %q", rec.Topic, rec.Key)
	}
	rec.Offset = 41
	dec, err := testCodec.Decode(rec)
	if err != nil || dec.Message == nil {
		t.Fatalf("Decode: %v %+v", err, dec)
	}
	got := dec.Message
	if got.ID != m.ID || got.Body != m.Body || got.Seq != 42 || !got.SentAt.Equal(m.SentAt) {
		t.Errorf("got %+v", got)
	}
}

func TestDecodeRefusesForeignRecords(t *testing.T) {
	tests := []struct {
		name, topic, value, reason string
	}{
		{"not json", "direct-messages", "hello", "invalid_json"},
		{"group conversation on dm topic", "direct-messages",
			`{"type":"message","id":"m","conversation":"group:g","from":"a","body":"x"}`, "invalid_conversation"},
		{"sender outside the dm", "direct-messages",
			`{"type":"message","id":"m","conversation":"dm:a:b","from":"c","body":"x"}`, "invalid_message"},
		{"unknown type", "group-messages", `{"type":"poke","conversation":"group:g"}`, "unknown_type"},
		{"empty body", "group-messages",
			`{"type":"message","id":"m","conversation":"group:g","from":"a","body":" "}`, "invalid_body"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := testCodec.Decode(&Record{Topic: tt.topic, Value: []byte(tt.value)})
			var d *DeadLetterError
			if !errors.As(err, &d) || d.Reason != tt.reason {
				t.Fatalf("err = %v, want dead letter %q", err, tt.reason)
			}
		})
	}
}

func TestDeadLetterKeepsOriginAndReason(t *testing.T) {
	r := notifRecord("bob", "{")
	r.Headers = []Header{{"trace", []byte("t1")}}
	_, err := ParseNotification(r)
	dl := testCodec.DeadLetter(r, err, time.Now())
	if dl.Topic != "parley.dead-letters" || string(dl.Key) != "bob" || string(dl.Value) != "{" {
		t.Fatalf("dead letter %+v", dl)
	}
	for k, want := range map[string]string{"trace": "t1", HeaderDeadReason: "invalid_json",
		HeaderDeadTopic: "notifications", HeaderDeadPartition: "1", HeaderDeadOffset: "7"} {
		if got := string(dl.Header(k)); got != want {
			t.Errorf("header %s = %q, want %q", k, got, want)
		}
	}
}
