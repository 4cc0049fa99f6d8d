package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"strconv"
	"time"
)

func init() {
	register("notify", "send a notification (API key)", runNotify)
}

const notifySynopsis = `
notify [--to USER ...] [--title TITLE] (--body TEXT | TEXT) [flags]

Sends a notification with the server API key and prints its ID. Without
--to it goes to every user. TEXT, the arguments joined by spaces or
standard input when it is "-", is the body when --body is not given.`

const notifyExamples = `  parley notify --to bob --title "Build failed" "main is red since 12:03"
  parley notify --to bob,carol --priority urgent --kind alert --ttl 10m "disk full"
  parley notify --title Maintenance "down at 22:00 UTC"          # every user
  parley notify --to bob --data '{"order":1234}' --collapse-key order-1234 \
      --id order-1234-shipped "your order shipped"`

// envelope is the body of POST /v1/notifications.
type envelope struct {
	To          any             `json:"to"` // a list of user IDs, or "*" for every user
	Title       string          `json:"title,omitempty"`
	Body        string          `json:"body"`
	Kind        string          `json:"kind,omitempty"`
	Priority    string          `json:"priority,omitempty"`
	Data        json.RawMessage `json:"data,omitempty"`
	CollapseKey string          `json:"collapse_key,omitempty"`
	TTL         any             `json:"ttl,omitempty"` // seconds, or a duration string
	ID          string          `json:"id,omitempty"`
}

// notifyFlags are the flags of `parley notify` that need a check before
// they go into an envelope.
type notifyFlags struct {
	to   listFlag
	data string
	ttl  string
}

// runNotify is `parley notify`.
func runNotify(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs, o := newClientFlags("notify", notifySynopsis, notifyExamples, stderr)
	var env envelope
	var nf notifyFlags
	addNotifyFlags(fs, &env, &nf)
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	if err := fillEnvelope(&env, nf, pos); err != nil {
		return err
	}

	c, err := o.serverClient()
	if err != nil {
		return err
	}
	var n notification
	raw, err := c.call(ctx, "POST", "/v1/notifications", env, &n)
	if err != nil {
		return err
	}
	if o.json {
		printRaw(stdout, raw)
		return nil
	}
	fmt.Fprintln(stdout, n.ID)
	return nil
}

// addNotifyFlags defines the flags of `parley notify` on fs.
func addNotifyFlags(fs *flag.FlagSet, env *envelope, nf *notifyFlags) {
	fs.Var(&nf.to, "to",
		"a recipient; repeat it or separate users with commas (default: every user)")
	fs.StringVar(&env.Title, "title", "", "the title")
	fs.StringVar(&env.Body, "body", "", "the body (default: the arguments)")
	fs.StringVar(&env.Kind, "kind", "", "a kind of your choice, such as alert or order")
	fs.StringVar(&env.Priority, "priority", "", "low, normal, high or urgent (default normal)")
	fs.StringVar(&nf.data, "data", "", "free JSON for the receiving app")
	fs.StringVar(&env.CollapseKey, "collapse-key", "",
		"replace an unread notification with the same key")
	fs.StringVar(&nf.ttl, "ttl", "", "expire after this long: 10m, 36h or seconds")
	fs.StringVar(&env.ID, "id", "", "an idempotency key: a retry with it sends nothing new")
}

// fillEnvelope completes env from the checked flags and the positional
// arguments.
func fillEnvelope(env *envelope, nf notifyFlags, pos []string) error {
	switch {
	case env.Body != "" && len(pos) > 0:
		return usageError{"give the body as --body or as arguments, not both"}
	case env.Body == "":
		text, err := textArg(pos)
		if err != nil {
			return err
		}
		env.Body = text
	}
	if env.Body == "" {
		return usageError{"missing the notification body"}
	}

	env.To = []string(nf.to)
	if len(nf.to) == 0 {
		env.To = "*"
	}
	if nf.data != "" {
		if !json.Valid([]byte(nf.data)) {
			return usageError{fmt.Sprintf("--data %q is not valid JSON", nf.data)}
		}
		env.Data = json.RawMessage(nf.data)
	}
	ttl, err := parseTTL(nf.ttl)
	if err != nil {
		return err
	}
	env.TTL = ttl
	return nil
}

// parseTTL checks a --ttl value and returns it as the envelope carries it:
// a number of seconds, a duration string, or nil when s is empty.
func parseTTL(s string) (any, error) {
	if s == "" {
		return nil, nil
	}
	if n, err := strconv.ParseInt(s, 10, 64); err == nil && n > 0 {
		return n, nil
	}
	if d, err := time.ParseDuration(s); err == nil && d > 0 {
		return s, nil
	}
	return nil, usageError{fmt.Sprintf("--ttl %q: want a positive duration such as 10m, "+
		"or seconds", s)}
}
