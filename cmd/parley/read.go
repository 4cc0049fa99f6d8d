package main

import (
	"context"
	"fmt"
	"io"
)

func init() {
	register("read", "mark a conversation or a notification read", runRead)
}

const readSynopsis = `
read (--with USER | --group ID) CURSOR [flags]
read --notification ID [flags]

Marks a conversation read up to CURSOR (as history prints it, "#42" or
"42"), or a notification read. Your other connections and, in a direct
conversation, the other user get a read event.`

const readExamples = `  parley read --with bob 42
  parley read --group g123 '#97'
  parley read --notification n8f3c2`

// runRead is `parley read`.
func runRead(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs, o := newClientFlags("read", readSynopsis, readExamples, stderr)
	with := fs.String("with", "", "the other user of a direct conversation")
	group := fs.String("group", "", "a group")
	note := fs.String("notification", "", "a notification's ID")
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	path, body, err := readRequest(*with, *group, *note, pos)
	if err != nil {
		return err
	}

	c, err := o.userClient()
	if err != nil {
		return err
	}
	if _, err := c.call(ctx, "POST", path, body, nil); err != nil {
		return err
	}
	if !o.json {
		fmt.Fprintln(stdout, "marked read")
	}
	return nil
}

// readRequest returns the route and body that mark read what the flags and
// the positional arguments name.
func readRequest(with, group, note string, pos []string) (string, any, error) {
	given := 0
	for _, s := range []string{with, group, note} {
		if s != "" {
			given++
		}
	}
	if given != 1 {
		return "", nil, usageError{"give one of --with, --group and --notification"}
	}
	if note != "" {
		err := wantArgs(pos, 0, "")
		return apiPath("/v1/notifications/%s/read", note), nil, err
	}

	if err := wantArgs(pos, 1, "the cursor to mark read up to"); err != nil {
		return "", nil, err
	}
	body := map[string]string{"cursor": trimHash(pos[0])}
	if with != "" {
		return apiPath("/v1/dm/%s/read", with), body, nil
	}
	return apiPath("/v1/groups/%s/read", group), body, nil
}

// trimHash drops the "#" that history prints before a cursor.
func trimHash(cursor string) string {
	if len(cursor) > 1 && cursor[0] == '#' {
		return cursor[1:]
	}
	return cursor
}
