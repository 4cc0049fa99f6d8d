package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"net/url"
	"strconv"
	"unicode/utf8"
)

func init() {
	register("history", "print a direct-message conversation", runHistory)
	register("conversations", "list your conversations", runConversations)
	register("inbox", "list your notifications", runInbox)
}

const historySynopsis = `
history --with USER [--limit N] [--before CURSOR | --after CURSOR] [flags]

Prints the direct messages between the token's user and USER, oldest
first, one a line with its cursor: "2025-01-02 12:03:04 #42 alice: hi".
Without --before or --after it prints the newest ones.`

const historyExamples = `  parley history --with bob
  parley history --with bob --limit 20 --before 42     # the 20 before #42
  parley history --with bob --after 42 --json`

// pageFlags select a page of a conversation's history.
type pageFlags struct {
	limit  int
	before string
	after  string
}

// addPageFlags defines --limit, --before and --after on fs.
func addPageFlags(fs *flag.FlagSet) *pageFlags {
	p := &pageFlags{}
	fs.IntVar(&p.limit, "limit", 0, "at most this many entries (default: the server's, 50)")
	fs.StringVar(&p.before, "before", "", "only entries older than this cursor")
	fs.StringVar(&p.after, "after", "", "only entries newer than this cursor")
	return p
}

// query returns the page as a query string appended to path.
func (p *pageFlags) query(path string) (string, error) {
	if p.limit < 0 {
		return "", usageError{"--limit must not be negative"}
	}
	q := url.Values{"before": {trimHash(p.before)}, "after": {trimHash(p.after)}}
	if p.limit > 0 {
		q.Set("limit", strconv.Itoa(p.limit))
	}
	return withQuery(path, q), nil
}

// runHistory is `parley history`.
func runHistory(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs, o := newClientFlags("history", historySynopsis, historyExamples, stderr)
	with := fs.String("with", "", "the other user of the conversation")
	page := addPageFlags(fs)
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	if err := wantArgs(pos, 0, ""); err != nil {
		return err
	}
	if *with == "" {
		return usageError{"missing --with USER"}
	}
	return showHistory(ctx, o, page, apiPath("/v1/dm/%s/messages", *with), stdout)
}

// showHistory prints a page of the conversation whose messages are at
// path.
func showHistory(ctx context.Context, o *clientOptions, page *pageFlags, path string,
	stdout io.Writer) error {
	path, err := page.query(path)
	if err != nil {
		return err
	}
	c, err := o.userClient()
	if err != nil {
		return err
	}
	var answer struct {
		Messages []message `json:"messages"`
	}
	raw, err := c.call(ctx, "GET", path, nil, &answer)
	if err != nil {
		return err
	}

	if o.json {
		printRaw(stdout, raw)
		return nil
	}
	printHistory(stdout, answer.Messages)
	return nil
}

const conversationsSynopsis = `
conversations [flags]

Lists the token's user's conversations, direct and group, with their
unread counts and their newest entry.`

const conversationsExamples = `  parley conversations
  parley conversations --json | jq -r '.conversations[] | select(.unread > 0) | .id'`

// conversation is a row of a user's conversation list.
type conversation struct {
	ID     string   `json:"id"`
	Kind   string   `json:"kind"`
	Peer   string   `json:"peer"`
	Name   string   `json:"name"`
	Unread int      `json:"unread"`
	Last   *message `json:"last"`
}

// runConversations is `parley conversations`.
func runConversations(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs, o := newClientFlags("conversations", conversationsSynopsis, conversationsExamples,
		stderr)
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	if err := wantArgs(pos, 0, ""); err != nil {
		return err
	}
	c, err := o.userClient()
	if err != nil {
		return err
	}
	var answer struct {
		Conversations []conversation `json:"conversations"`
	}
	raw, err := c.call(ctx, "GET", "/v1/conversations", nil, &answer)
	if err != nil {
		return err
	}

	if o.json {
		printRaw(stdout, raw)
		return nil
	}
	printConversations(stdout, answer.Conversations)
	return nil
}

// lastWidth is how many characters of a conversation's newest entry the
// conversation list shows.
const lastWidth = 48

// printConversations writes the conversation list as a table.
func printConversations(w io.Writer, convs []conversation) {
	t := newTable(w)
	fmt.Fprintln(t, "CONVERSATION\tWITH\tUNREAD\tLAST")
	for _, cv := range convs {
		with := cv.Peer
		if cv.Kind == "group" || with == "" {
			with = cv.Name
		}
		last := "-"
		if cv.Last != nil {
			last = stamp(cv.Last.SentAt) + " " + truncate(entryText(cv.Last), lastWidth)
		}
		fmt.Fprintf(t, "%s\t%s\t%d\t%s\n", clean(cv.ID), clean(with), cv.Unread, last)
	}
	t.Flush()
}

// truncate shortens s to n characters, marking the cut with "…".
func truncate(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	return string([]rune(s)[:n-1]) + "…"
}

const inboxSynopsis = `
inbox [--limit N] [--before CURSOR] [flags]

Lists the token's user's notifications, newest first, unread ones marked
"*", each with its ID (for parley read --notification).`

const inboxExamples = `  parley inbox
  parley inbox --limit 10 --before 1234`

// runInbox is `parley inbox`.
func runInbox(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs, o := newClientFlags("inbox", inboxSynopsis, inboxExamples, stderr)
	limit := fs.Int("limit", 0, "at most this many notifications (default: the server's)")
	before := fs.String("before", "", "only notifications older than this cursor")
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	if err := wantArgs(pos, 0, ""); err != nil {
		return err
	}
	path, err := (&pageFlags{limit: *limit, before: *before}).query("/v1/notifications")
	if err != nil {
		return err
	}

	c, err := o.userClient()
	if err != nil {
		return err
	}
	var answer struct {
		Notifications []notification `json:"notifications"`
		Unread        int            `json:"unread"`
	}
	raw, err := c.call(ctx, "GET", path, nil, &answer)
	if err != nil {
		return err
	}
	if o.json {
		printRaw(stdout, raw)
		return nil
	}
	printInbox(stdout, answer.Notifications, answer.Unread)
	return nil
}

// printInbox writes a page of notifications, one a line.
func printInbox(w io.Writer, ns []notification, unread int) {
	fmt.Fprintf(w, "%d unread\n", unread)
	for i := range ns {
		n := &ns[i]
		mark := " "
		if !n.Read {
			mark = "*"
		}
		text := notificationText(n)
		if tag := priorityTag(n); tag != "" {
			text = tag + " " + text
		}
		fmt.Fprintf(w, "%s %s %s  (%s)\n", mark, stamp(n.CreatedAt), text, clean(n.ID))
	}
}
