package main

import (
	"context"
	"fmt"
	"io"
)

func init() {
	register("send", "send a direct message or a group message", runSend)
}

const sendSynopsis = `
send (--to USER | --group ID) [flags] TEXT

Sends TEXT (the arguments joined by spaces, or standard input when TEXT is
"-") as the user of the token, to a user or to a group, and prints the
message's ID, conversation and cursor. A retry with the same --client-id
yields the same message, never a second one.`

const sendExamples = `  parley send --to bob "lunch at noon?"
  parley send --group g123 --client-id deploy-42 "deploy 42 is live"
  git log -1 --format=%B | parley send --to bob -`

// runSend is `parley send`.
func runSend(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs, o := newClientFlags("send", sendSynopsis, sendExamples, stderr)
	to := fs.String("to", "", "the user to send a direct message to")
	group := fs.String("group", "", "the group to send to")
	var req struct {
		Body     string `json:"body"`
		ClientID string `json:"client_id,omitempty"`
	}
	fs.StringVar(&req.ClientID, "client-id", "", "an idempotency key for the message")
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	path, err := sendPath(*to, *group)
	if err != nil {
		return err
	}
	if req.Body, err = textArg(pos); err != nil {
		return err
	}
	if req.Body == "" {
		return usageError{"missing message text"}
	}

	c, err := o.userClient()
	if err != nil {
		return err
	}
	var m message
	raw, err := c.call(ctx, "POST", path, req, &m)
	if err != nil {
		return err
	}
	if o.json {
		printRaw(stdout, raw)
		return nil
	}
	fmt.Fprintf(stdout, "sent %s to %s (cursor %s)\n", clean(m.ID), clean(m.Conversation),
		clean(string(m.Cursor)))
	return nil
}

// sendPath returns the route that posts to a user or to a group, whichever
// one of them is set.
func sendPath(to, group string) (string, error) {
	switch {
	case to != "" && group != "":
		return "", usageError{"give --to or --group, not both"}
	case to != "":
		return apiPath("/v1/dm/%s/messages", to), nil
	case group != "":
		return apiPath("/v1/groups/%s/messages", group), nil
	}
	return "", usageError{"missing --to USER or --group ID"}
}
