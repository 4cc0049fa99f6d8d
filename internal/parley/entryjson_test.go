package parley

import (
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"
	"unicode/utf8"
)

// entryValues are record values the fast path must decode as encoding/json
// does, with whether it should decode them itself rather than fall back.
var entryValues = []struct {
	name  string
	value string
	fast  bool
}{
	{"message as written is fast", string(dmRecord().Value), true},
	{"member as written is fast", string(memberRecord().Value), true},
	{"read as written is fast", string(readRecord().Value), true},
	{"notification read as written is fast", string(notificationReadRecord().Value), true},
	{"topic as written is fast", string(testCodec.TopicRecord("g1").Value), true},
	{"empty object is fast", `{}`, true},
	{"missing fields are fast", `{"type":"message"}`, true},
	{"whitespace between tokens is fast",
		" \t\r\n{ \"type\" : \"read\" ,\n\t\"user\":\"bob\" } \n", true},
	{"raw unicode is fast", `{"body":"café ☕ 🎉 ` + "\u2028\u2029\x7f" + `"}`, true},
	{"empty member is fast", `{"type":"member","member":{}}`, true},
	{"time with an offset is fast", `{"sent_at":"2026-03-14T17:09:26.5+02:00"}`, true},
	{"unknown type is fast", `{"type":"poke"}`, true},

	{"escaped quote falls back", `{"body":"say \"hi\""}`, false},
	{"unicode escape falls back", `{"body":"caf\u00e9 \ud83c\udf89"}`, false},
	{"escaped key falls back", `{"\u0074ype":"message"}`, false},
	{"escaped time falls back", `{"at":"2026-03-14T15:09:26\u005a"}`, false},
	{"capitalised key falls back", `{"Type":"message","BODY":"x"}`, false},
	{"capitalised member key falls back", `{"member":{"User":"a"}}`, false},
	{"duplicate key falls back", `{"body":"a","body":"b"}`, false},
	{"duplicate key in other case falls back", `{"body":"a","Body":"b"}`, false},
	{"duplicate member merges in fallback",
		`{"member":{"user":"a"},"member":{"action":"left"}}`, false},
	{"duplicate member key falls back", `{"member":{"user":"a","user":"b"}}`, false},
	{"duplicate time falls back",
		`{"at":"2026-03-14T15:09:26Z","at":"2026-03-15T15:09:26Z"}`, false},
	{"unknown key falls back", `{"type":"message","extra":{"a":[1,2]}}`, false},
	{"unknown member key falls back", `{"member":{"user":"a","since":"x"}}`, false},
	{"empty key falls back", `{"":"x"}`, false},
	{"null field falls back", `{"body":null,"member":null,"at":null}`, false},
	{"null value falls back", `null`, false},
	{"number falls back", `{"body":5}`, false},
	{"bool falls back", `{"body":true}`, false},
	{"string member falls back", `{"member":"bob"}`, false},
	{"list member falls back", `{"member":[]}`, false},
	{"list type falls back", `{"type":["message"]}`, false},
	{"numeric time falls back", `{"sent_at":1700000000}`, false},
	{"bad time falls back", `{"sent_at":"yesterday"}`, false},
	{"impossible date falls back", `{"at":"2026-13-01T00:00:00Z"}`, false},
	{"raw tab falls back", "{\"body\":\"a\tb\"}", false},
	{"raw newline falls back", "{\"body\":\"a\nb\"}", false},
	{"byte order mark falls back", "\ufeff{}", false},
	{"empty value falls back", ``, false},
	{"lone brace falls back", `{`, false},
	{"truncated string falls back", `{"type":"mess`, false},
	{"missing close falls back", `{"type":"message"`, false},
	{"missing value falls back", `{"type":}`, false},
	{"missing colon falls back", `{"type" "message"}`, false},
	{"trailing comma falls back", `{"type":"message",}`, false},
	{"trailing data falls back", `{"type":"message"} x`, false},
	{"two objects fall back", `{}{}`, false},
	{"list falls back", `[]`, false},
	{"string falls back", `"message"`, false},
	{"invalid utf8 is refused", "{\"body\":\"caf\xe9\"}", false},
	{"too large is refused", `{"body":"` + strings.Repeat("x", MaxRecordBytes) + `"}`, false},
}

func memberRecord() *Record {
	return testCodec.EntryRecord(&Message{
		ID: "m1", Type: TypeMember, Conversation: GroupConversation("g1"), From: "alice",
		Member: &MemberChange{User: "bob", Action: ActionRole, Role: RoleAdmin},
		SentAt: time.Date(2026, 3, 14, 15, 9, 26, 0, time.UTC),
	}, StrategyShared)
}

func readRecord() *Record {
	return testCodec.ReadRecord(&ReadMark{
		User: "bob", Conversation: DMConversation("alice", "bob"), Seq: 1_000_042,
		At: time.Date(2026, 3, 14, 15, 9, 26, 1, time.FixedZone("", -7*3600)),
	}, "")
}

func notificationReadRecord() *Record {
	return testCodec.ReadRecord(&ReadMark{User: "bob", Notification: "n1", At: time.Now()}, "")
}

func TestDecodeEntryFastAgreesWithJSON(t *testing.T) {
	for _, tt := range entryValues {
		t.Run(tt.name, func(t *testing.T) {
			if fast := checkAgainstJSON(t, []byte(tt.value)); fast != tt.fast {
				t.Errorf("fast path took it: %v, want %v", fast, tt.fast)
			}
		})
	}
}

// maxFuzzValue bounds the values FuzzDecodeEntry tries. The fuzzer spends up
// to a minute minimising each long input it finds interesting, and long ones
// test nothing short ones do not: the limit on size is a length check, which
// TestDecodeEntryFastAgreesWithJSON covers.
const maxFuzzValue = 4 << 10

func FuzzDecodeEntry(f *testing.F) {
	for _, tt := range entryValues {
		if len(tt.value) <= maxFuzzValue {
			f.Add([]byte(tt.value))
		}
	}
	f.Fuzz(func(t *testing.T, v []byte) {
		if len(v) > maxFuzzValue {
			t.Skip("long values only slow the fuzzer down")
		}
		checkAgainstJSON(t, v)
	})
}

// checkAgainstJSON fails t when decodeEntryFast or decodeStrict decode v
// otherwise than encoding/json, or refuse it with another error than the
// one they gave before the fast path existed. It reports whether
// decodeStrict took the fast path.
func checkAgainstJSON(t *testing.T, v []byte) (fast bool) {
	t.Helper()
	var want wireEntry
	wantErr := json.Unmarshal(v, &want)

	// decodeStrict calls the fast path only on values it has checked.
	var got wireEntry
	if len(v) <= MaxRecordBytes && utf8.Valid(v) {
		fast = decodeEntryFast(v, &got)
	}
	switch {
	case fast && wantErr != nil:
		t.Fatalf("fast path decoded %q, which encoding/json refuses: %v", v, wantErr)
	case fast && !reflect.DeepEqual(got, want):
		t.Fatalf("fast path decoded %q as\n%+v\nencoding/json as\n%+v", v, got, want)
	case !fast && !reflect.DeepEqual(got, wireEntry{}):
		t.Fatalf("fast path gave up on %q but changed the entry to %+v", v, got)
	}

	got = wireEntry{}
	err := decodeStrict(v, &got)
	var d *DeadLetterError
	switch {
	case len(v) > MaxRecordBytes || !utf8.Valid(v):
		if !errors.As(err, &d) || (d.Reason != "too_large" && d.Reason != "invalid_utf8") {
			t.Fatalf("decodeStrict(%q) = %v, want too_large or invalid_utf8", v, err)
		}
	case wantErr != nil:
		detail := "value is not valid JSON: " + wantErr.Error()
		if !errors.As(err, &d) || d.Reason != "invalid_json" || d.Detail != detail {
			t.Fatalf("decodeStrict(%q) = %v, want invalid_json: %s", v, err, detail)
		}
	case err != nil:
		t.Fatalf("decodeStrict(%q) = %v, want no error", v, err)
	case !reflect.DeepEqual(got, want):
		t.Fatalf("decodeStrict decoded %q as\n%+v\nencoding/json as\n%+v", v, got, want)
	}
	return fast
}

func TestHasStringStop(t *testing.T) {
	// Every byte value at every place in a word, among fillers on either
	// side of the bounds the bit trick depends on.
	for _, filler := range []byte{'a', 0x20, '"' + 1, '\\' + 1, 0x7f, 0x80, 0xff} {
		for c := range 256 {
			for at := range 8 {
				w := [8]byte{}
				for i := range w {
					w[i] = filler
				}
				w[at] = byte(c)
				x := uint64(0)
				for i := range w {
					x |= uint64(w[i]) << (8 * i)
				}
				want := stringStop[c] || stringStop[filler]
				if got := hasStringStop(x); got != want {
					t.Fatalf("hasStringStop(% x) = %v, want %v", w, got, want)
				}
			}
		}
	}
}
