package main

// This file holds the client's view of the API's JSON (docs/protocol.md)
// and how the client subcommands render it as text. The types hold only
// what the text shows; --json prints the answers whole.

import (
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"
	"unicode"
	"unicode/utf8"
)

// flexString is a JSON string that also accepts a bare number, for values
// the protocol calls opaque strings (cursors) or that Kafka reports either
// way (topic configs).
type flexString string

// UnmarshalJSON accepts a string, a number or null.
func (s *flexString) UnmarshalJSON(b []byte) error {
	if len(b) > 0 && b[0] == '"' {
		var v string
		if err := json.Unmarshal(b, &v); err != nil {
			return err
		}
		*s = flexString(v)
		return nil
	}
	if string(b) == "null" {
		*s = ""
		return nil
	}
	*s = flexString(b)
	return nil
}

// message is an entry of a conversation: a message, or in a group a
// membership change.
type message struct {
	ID           string        `json:"id"`
	Type         string        `json:"type"`
	Conversation string        `json:"conversation"`
	From         string        `json:"from"`
	Body         string        `json:"body"`
	SentAt       time.Time     `json:"sent_at"`
	Member       *memberChange `json:"member"`
	Cursor       flexString    `json:"cursor"`
}

// memberChange is what a membership entry changed.
type memberChange struct {
	User   string `json:"user"`
	Action string `json:"action"`
	Role   string `json:"role"`
}

// notification is a notification as a user receives it.
type notification struct {
	ID        string    `json:"id"`
	Title     string    `json:"title"`
	Body      string    `json:"body"`
	Kind      string    `json:"kind"`
	Priority  string    `json:"priority"`
	CreatedAt time.Time `json:"created_at"`
	Read      bool      `json:"read"`
}

// clock renders the time of a live event, the local time of day; an event
// without a time gets the time it arrived.
func clock(t time.Time) string {
	if t.IsZero() {
		t = time.Now()
	}
	return t.Local().Format(time.TimeOnly)
}

// stamp renders a time in a listing: the local date and time.
func stamp(t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return t.Local().Format(time.DateTime)
}

// clean makes text from the server safe to print on one terminal line:
// newlines become "↵" and other control characters escapes, so that a
// message cannot move the cursor or recolour the terminal.
func clean(s string) string {
	var b strings.Builder
	for _, r := range s {
		switch {
		case r == '\n':
			b.WriteString("↵")
		case r == '\t':
			b.WriteByte(' ')
		case r == utf8.RuneError || unicode.IsControl(r):
			q := strconv.QuoteRuneToASCII(r)
			b.WriteString(q[1 : len(q)-1])
		default:
			b.WriteRune(r)
		}
	}
	return b.String()
}

// entryText renders what an entry says after its time: "alice: hi", or
// for a membership change what happened, "alice added bob".
func entryText(m *message) string {
	if m.Member == nil {
		return clean(m.From) + ": " + clean(m.Body)
	}
	return memberText(m.From, m.Member)
}

// memberText renders a membership change made by actor.
func memberText(actor string, c *memberChange) string {
	actor, user, role := clean(actor), clean(c.User), clean(c.Role)
	switch c.Action {
	case "joined":
		if actor == "" || actor == user {
			return user + " joined"
		}
		if role != "" && role != "member" {
			return actor + " added " + user + " as " + role
		}
		return actor + " added " + user
	case "removed":
		return actor + " removed " + user
	case "left":
		return user + " left"
	case "role":
		return actor + " made " + user + " " + role
	}
	return fmt.Sprintf("%s: %s %s", actor, clean(c.Action), user)
}

// printHistory writes a page of history, one entry a line:
// "2025-01-02 12:03:04 #42 alice: hi".
func printHistory(w io.Writer, msgs []message) {
	for i := range msgs {
		m := &msgs[i]
		fmt.Fprintf(w, "%s #%s %s\n", stamp(m.SentAt), clean(string(m.Cursor)), entryText(m))
	}
}

// notificationText renders a notification's title and body: "title —
// body", or the body alone when it has no title.
func notificationText(n *notification) string {
	if n.Title == "" {
		return clean(n.Body)
	}
	return clean(n.Title) + " — " + clean(n.Body)
}

// priorityTag marks a notification of high or urgent priority: "[urgent]".
// It is empty for the others.
func priorityTag(n *notification) string {
	if n.Priority == "high" || n.Priority == "urgent" {
		return "[" + n.Priority + "]"
	}
	return ""
}

// newTable returns a writer that aligns tab-separated columns; flush it.
func newTable(w io.Writer) *tabwriter.Writer {
	return tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
}
