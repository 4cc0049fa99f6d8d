package parley

import (
	"errors"
	"maps"
	"strings"
	"testing"
)

func TestValidUserID(t *testing.T) {
	for id, want := range map[string]bool{
		"alice": true, "bob_2": true, "a.b-c": true, "0day": true,
		"": false, "Alice": false, "_x": false, "a:b": false, "a b": false,
		strings.Repeat("a", 64): true, strings.Repeat("a", 65): false, "é": false,
	} {
		if got := ValidUserID(id); got != want {
			t.Errorf("ValidUserID(%q) = %v, want %v", id, got, want)
		}
	}
}

func TestConversationIDs(t *testing.T) {
	if a, b := DMConversation("bob", "alice"), DMConversation("alice", "bob"); a != b || a != "dm:alice:bob" {
		t.Fatalf("DMConversation = %q, %q", a, b)
	}
	kind, ids, ok := ParseConversation("dm:alice:bob")
	if !ok || kind != KindDM || ids[0] != "alice" || ids[1] != "bob" {
		t.Errorf("ParseConversation(dm) = %q %v %v", kind, ids, ok)
	}
	for _, bad := range []string{"dm:bob:alice", "dm:alice", "group:", "x:y", "dm:A:b", "nothing"} {
		if _, _, ok := ParseConversation(bad); ok {
			t.Errorf("ParseConversation(%q) accepted", bad)
		}
	}
}

func TestMessageIDIsDeterministic(t *testing.T) {
	a := MessageID("dm:a:b", "a", "c1")
	if a != MessageID("dm:a:b", "a", "c1") || a == MessageID("dm:a:b", "b", "c1") {
		t.Error("MessageID must depend on sender and be stable")
	}
}

func TestCheckBody(t *testing.T) {
	for body, kind := range map[string]error{
		"hi": nil, "": ErrInvalid, "  \n": ErrInvalid, "\xff": ErrInvalid,
		strings.Repeat("x", MaxBodyBytes+1): ErrTooLarge,
	} {
		if err := CheckBody(body); !errors.Is(err, kind) && (kind != nil || err != nil) {
			t.Errorf("CheckBody(%.10q) = %v, want %v", body, err, kind)
		}
	}
}

func TestStreamCursorRoundTrip(t *testing.T) {
	c := StreamCursor{{"direct-messages", 0}: 12, {"direct-messages", 5}: 1 << 40, {"notifications", 2}: 0}
	s := c.String()
	got, err := ParseStreamCursor(s)
	if err != nil || len(got) != len(c) {
		t.Fatalf("ParseStreamCursor(%q) = %v, %v", s, got, err)
	}
	for tp, off := range c {
		if got[tp] != off {
			t.Errorf("%v = %d, want %d", tp, got[tp], off)
		}
	}
	for _, bad := range []string{"!!", "AA", "AQ", s[:len(s)-2]} {
		if _, err := ParseStreamCursor(bad); err == nil {
			t.Errorf("ParseStreamCursor(%q) accepted", bad)
		}
	}
}

// TestStreamCursorEncodingIsStable pins the encoding: clients keep cursors
// across server upgrades, so a cursor must encode as it always did.
func TestStreamCursorEncodingIsStable(t *testing.T) {
	c := StreamCursor{{"notifications", 2}: 7, {"direct-messages", 5}: 1 << 40,
		{"direct-messages", 0}: 12, {"group.team-a", 0}: 300, {"group-messages", 1}: 0}
	const want = "AQ9kaXJlY3QtbWVzc2FnZXMCAAwFgICAgIAgDmdyb3VwLW1lc3NhZ2VzAQEADGdyb3VwLnRlYW0t" +
		"YQEArAINbm90aWZpY2F0aW9ucwECBw"
	if got := c.String(); got != want {
		t.Fatalf("String() = %s, want %s", got, want)
	}
	// More partitions than String sorts on the stack.
	big := StreamCursor{}
	for p := range int32(2 * maxStackPartitions) {
		big[TopicPartition{"direct-messages", p}] = int64(p)
	}
	got, err := ParseStreamCursor(big.String())
	if err != nil || !maps.Equal(got, big) {
		t.Fatalf("a cursor of %d partitions came back as %v, %v", len(big), got, err)
	}
}
