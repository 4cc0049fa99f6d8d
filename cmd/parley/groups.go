package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"time"
)

func init() {
	register("groups", "list, create and manage group chats", runGroups)
}

// groupsVerbs are the subcommands of `parley groups`.
var groupsVerbs = map[string]subcommand{
	"list":    {"list your groups (the default)", groupsList},
	"create":  {"create a group", groupsCreate},
	"show":    {"show a group and its members", groupsShow},
	"add":     {"add a member (owner, admin)", groupsAdd},
	"remove":  {"remove a member (owner, admin)", groupsRemove},
	"leave":   {"leave a group", groupsLeave},
	"role":    {"change a member's role (owner)", groupsRole},
	"history": {"print a group's messages", groupsHistory},
	"move":    {"move a group to a topic of its own (API key)", groupsMove},
}

const groupsExamples = `  parley groups
  parley groups create --name "Ops" --member bob,carol
  parley groups add g123 dave --role admin
  parley groups history g123 --limit 20`

// runGroups is `parley groups`.
func runGroups(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	return dispatch(ctx, "groups", "list", groupsVerbs, groupsExamples, args, stdout, stderr)
}

// group is a group chat; Members is set where the route answers with them.
type group struct {
	ID        string    `json:"id"`
	Name      string    `json:"name"`
	Owner     string    `json:"owner"`
	Strategy  string    `json:"strategy"`
	CreatedAt time.Time `json:"created_at"`
	Members   []member  `json:"members"`
}

// member is a user's membership of a group.
type member struct {
	User     string    `json:"user"`
	Role     string    `json:"role"`
	JoinedAt time.Time `json:"joined_at"`
}

// groupCall holds what a groups subcommand needs once its arguments are
// parsed.
type groupCall struct {
	o   *clientOptions
	c   *client
	pos []string // the positional arguments
}

// parseGroupCall parses the arguments of a groups subcommand that takes
// the n positional arguments names describes.
func parseGroupCall(fs *flag.FlagSet, o *clientOptions, args []string, n int,
	names string) (*groupCall, error) {
	pos, err := parse(fs, args)
	if err != nil {
		return nil, err
	}
	if err := wantArgs(pos, n, names); err != nil {
		return nil, err
	}
	c, err := o.userClient()
	if err != nil {
		return nil, err
	}
	return &groupCall{o: o, c: c, pos: pos}, nil
}

// do calls the API, then prints the raw answer for --json or calls text.
func (g *groupCall) do(ctx context.Context, method, path string, in, out any,
	stdout io.Writer, text func()) error {
	raw, err := g.c.call(ctx, method, path, in, out)
	if err != nil {
		return err
	}
	if g.o.json {
		printRaw(stdout, raw)
		return nil
	}
	text()
	return nil
}

// groupsList is `parley groups list`.
func groupsList(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs, o := newClientFlags("groups list", "groups [list] [flags]\n\nLists your groups.",
		"  parley groups\n  parley groups list --json", stderr)
	g, err := parseGroupCall(fs, o, args, 0, "")
	if err != nil {
		return err
	}
	var answer struct {
		Groups []group `json:"groups"`
	}
	return g.do(ctx, "GET", "/v1/groups", nil, &answer, stdout, func() {
		printGroups(stdout, answer.Groups)
	})
}

// printGroups writes groups as a table.
func printGroups(w io.Writer, groups []group) {
	t := newTable(w)
	fmt.Fprintln(t, "ID\tNAME\tOWNER\tSTRATEGY\tMEMBERS")
	for _, gr := range groups {
		members := "-"
		if gr.Members != nil {
			members = fmt.Sprint(len(gr.Members))
		}
		fmt.Fprintf(t, "%s\t%s\t%s\t%s\t%s\n", clean(gr.ID), clean(gr.Name), clean(gr.Owner),
			clean(gr.Strategy), members)
	}
	t.Flush()
}

const groupsCreateSynopsis = `
groups create --name NAME [--member USER ...] [--id ID] [--strategy S] [flags]

Creates a group owned by the token's user, with the members given, and
prints it. Without --id the server picks the ID.`

const groupsCreateExamples = `  parley groups create --name Ops --member bob --member carol
  parley groups create --name "Launch room" --member bob,carol,dave --id launch
  parley groups create --name Firehose --strategy dedicated`

// groupsCreate is `parley groups create`.
func groupsCreate(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs, o := newClientFlags("groups create", groupsCreateSynopsis, groupsCreateExamples,
		stderr)
	var req struct {
		Name     string   `json:"name"`
		Members  listFlag `json:"members"`
		ID       string   `json:"id,omitempty"`
		Strategy string   `json:"strategy,omitempty"`
	}
	fs.StringVar(&req.Name, "name", "", "the group's name")
	fs.Var(&req.Members, "member", "a member; repeat it or separate users with commas")
	fs.StringVar(&req.ID, "id", "", "the group's ID (default: one the server picks)")
	fs.StringVar(&req.Strategy, "strategy", "",
		"shared or dedicated: its messages on the shared topic or a topic of its own")
	g, err := parseGroupCall(fs, o, args, 0, "")
	if err != nil {
		return err
	}
	if req.Name == "" {
		return usageError{"missing --name NAME"}
	}
	if req.Members == nil {
		req.Members = listFlag{}
	}

	var gr group
	return g.do(ctx, "POST", "/v1/groups", req, &gr, stdout, func() {
		printGroup(stdout, &gr)
	})
}

// groupsShow is `parley groups show`.
func groupsShow(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs, o := newClientFlags("groups show",
		"groups show ID [flags]\n\nShows a group you are a member of and its members.",
		"  parley groups show g123", stderr)
	g, err := parseGroupCall(fs, o, args, 1, "the group ID")
	if err != nil {
		return err
	}
	var gr group
	return g.do(ctx, "GET", apiPath("/v1/groups/%s", g.pos[0]), nil, &gr, stdout, func() {
		printGroup(stdout, &gr)
	})
}

// printGroup writes a group and its members.
func printGroup(w io.Writer, gr *group) {
	fmt.Fprintf(w, "group %s %q\n", clean(gr.ID), clean(gr.Name))
	fmt.Fprintf(w, "owner %s, strategy %s, created %s\n", clean(gr.Owner), clean(gr.Strategy),
		stamp(gr.CreatedAt))
	t := newTable(w)
	fmt.Fprintln(t, "MEMBER\tROLE\tJOINED")
	for _, m := range gr.Members {
		fmt.Fprintf(t, "%s\t%s\t%s\n", clean(m.User), clean(m.Role), stamp(m.JoinedAt))
	}
	t.Flush()
}

// groupsAdd is `parley groups add`.
func groupsAdd(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs, o := newClientFlags("groups add",
		"groups add ID USER [--role ROLE] [flags]\n\nAdds USER to the group as a member, "+
			"or with --role admin as an admin.",
		"  parley groups add g123 dave\n  parley groups add g123 dave --role admin", stderr)
	var req struct {
		User string `json:"user"`
		Role string `json:"role,omitempty"`
	}
	fs.StringVar(&req.Role, "role", "", "member or admin (default member)")
	g, err := parseGroupCall(fs, o, args, 2, "the group ID and the user")
	if err != nil {
		return err
	}
	req.User = g.pos[1]

	var m member
	path := apiPath("/v1/groups/%s/members", g.pos[0])
	return g.do(ctx, "POST", path, req, &m, stdout, func() {
		fmt.Fprintf(stdout, "added %s to %s as %s\n", clean(m.User), clean(g.pos[0]),
			clean(m.Role))
	})
}

// groupsRemove is `parley groups remove`.
func groupsRemove(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs, o := newClientFlags("groups remove",
		"groups remove ID USER [flags]\n\nRemoves USER from the group.",
		"  parley groups remove g123 dave", stderr)
	g, err := parseGroupCall(fs, o, args, 2, "the group ID and the user")
	if err != nil {
		return err
	}
	path := apiPath("/v1/groups/%s/members/%s", g.pos[0], g.pos[1])
	return g.do(ctx, "DELETE", path, nil, nil, stdout, func() {
		fmt.Fprintf(stdout, "removed %s from %s\n", clean(g.pos[1]), clean(g.pos[0]))
	})
}

// groupsLeave is `parley groups leave`.
func groupsLeave(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs, o := newClientFlags("groups leave",
		"groups leave ID [flags]\n\nTakes the token's user out of the group.",
		"  parley groups leave g123", stderr)
	g, err := parseGroupCall(fs, o, args, 1, "the group ID")
	if err != nil {
		return err
	}
	var me struct {
		User struct {
			ID string `json:"id"`
		} `json:"user"`
	}
	if _, err := g.c.call(ctx, "GET", "/v1/me", nil, &me); err != nil {
		return err
	}

	path := apiPath("/v1/groups/%s/members/%s", g.pos[0], me.User.ID)
	return g.do(ctx, "DELETE", path, nil, nil, stdout, func() {
		fmt.Fprintf(stdout, "left %s\n", clean(g.pos[0]))
	})
}

// groupsRole is `parley groups role`.
func groupsRole(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs, o := newClientFlags("groups role",
		"groups role ID USER ROLE [flags]\n\nGives a member the role member or admin "+
			"(the owner only).",
		"  parley groups role g123 dave admin", stderr)
	g, err := parseGroupCall(fs, o, args, 3, "the group ID, the user and the role")
	if err != nil {
		return err
	}
	req := struct {
		Role string `json:"role"`
	}{g.pos[2]}

	var m member
	path := apiPath("/v1/groups/%s/members/%s", g.pos[0], g.pos[1])
	return g.do(ctx, "PATCH", path, req, &m, stdout, func() {
		fmt.Fprintf(stdout, "%s is now %s in %s\n", clean(m.User), clean(m.Role),
			clean(g.pos[0]))
	})
}

const groupsHistorySynopsis = `
groups history ID [--limit N] [--before CURSOR | --after CURSOR] [flags]

Prints a group's messages and membership changes, oldest first, one a line
with its cursor. Without --before or --after it prints the newest ones.`

// groupsHistory is `parley groups history`.
func groupsHistory(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs, o := newClientFlags("groups history", groupsHistorySynopsis,
		"  parley groups history g123\n  parley groups history g123 --limit 20 --before 42",
		stderr)
	page := addPageFlags(fs)
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	if err := wantArgs(pos, 1, "the group ID"); err != nil {
		return err
	}
	return showHistory(ctx, o, page, apiPath("/v1/groups/%s/messages", pos[0]), stdout)
}

const groupsMoveSynopsis = `
groups move ID --api-key KEY [flags]

Moves a group from the shared group topic to a topic of its own,
group.<ID>, with its own partitions and retention. The group keeps working
during the move; its sends wait about 11 seconds while sends already under
way reach Kafka, so nothing is lost, doubled or reordered. An operator
command: it takes the server API key.`

// groupsMove is `parley groups move`.
func groupsMove(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs, o := newClientFlags("groups move", groupsMoveSynopsis,
		"  parley groups move g123 --api-key \"$PARLEY_API_KEY\"", stderr)
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	if err := wantArgs(pos, 1, "the group ID"); err != nil {
		return err
	}
	c, err := o.serverClient()
	if err != nil {
		return err
	}
	var gr group
	raw, err := c.call(ctx, "POST", apiPath("/v1/admin/groups/%s/move", pos[0]),
		map[string]string{"strategy": "dedicated"}, &gr)
	if err != nil {
		return err
	}
	if o.json {
		printRaw(stdout, raw)
		return nil
	}
	fmt.Fprintf(stdout, "group %s now has its own topic (strategy %s)\n", clean(gr.ID), clean(gr.Strategy))
	return nil
}
