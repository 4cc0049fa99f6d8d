package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/parley-chat/parley/internal/parley"
	"github.com/parley-chat/parley/internal/postgres"
	"github.com/parley-chat/parley/internal/sqlite"
)

func init() {
	register("migrate", "copy an embedded node's data (SQLite) into PostgreSQL", runMigrate)
}

const migrateSynopsis = `migrate (--from sqlite:PATH | --data DIR) --to postgres://... [--force]

Copies everything the SQLite store of an embedded node holds (accounts
with their passwords, groups and members, the history of every
conversation, read state and notification inboxes) into the PostgreSQL
store of a cluster, keeping IDs, cursors and times. The source is opened
read-only and never changed. Stop the embedded node cleanly first (Ctrl-C
or SIGTERM): the records of its Kafka broker are not copied, only what the
archiver has stored. Run again with --force, it copies only what is missing.`

const migrateExamples = `  parley migrate --data ./parley-data --to postgres://parley:secret@db/parley
  parley migrate --from sqlite:/srv/parley/parley.db --to "$PARLEY_DATABASE"`

// detachedPrefix starts the topic of a copied entry's position. The
// positions are the embedded broker's; in the new cluster, whose
// partitions count from 0 again, the same offsets name other records, and
// a stream resumed there would replay copied entries as if they were new.
// '/' cannot occur in a Kafka topic name, so no partition matches them.
const detachedPrefix = "embedded/"

// A copied conversation goes on in the cluster, whose offsets start at 0
// again, below the copied Seqs. So the command raises the target's Seq
// generation (see parley.SeqOf) above every copied one: the nodes put new
// entries in that generation, after the copied history.

// progressEvery is how often a long copy prints how far it got.
const progressEvery = 5 * time.Second

// migrateConfig is what `parley migrate` takes.
type migrateConfig struct {
	from, data, to string
	force          bool
}

// runMigrate is `parley migrate`.
func runMigrate(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	c, err := parseMigrate(args, stderr)
	if err != nil {
		return err
	}
	source, err := c.sourcePath()
	if err != nil {
		return err
	}
	logger := slog.New(slog.NewTextHandler(stderr, nil))

	src, err := sqlite.OpenReadOnly(ctx, source, logger)
	if err != nil {
		return fmt.Errorf("open source %s: %w", source, err)
	}
	defer src.Close()
	dst, imp, err := openMigrateTarget(ctx, c.to, source, logger)
	if err != nil {
		return err
	}
	defer dst.Close()
	if err := checkTarget(ctx, dst, c.force); err != nil {
		return err
	}

	fmt.Fprintf(stdout, "copying SQLite %s into %s\n", source, redact(c.to))
	p := &progress{w: stdout, last: time.Now()}
	err = src.Export(ctx, func(b *parley.TransferBatch) error {
		for _, m := range b.Messages {
			p.generation = max(p.generation, parley.GenerationOf(m.Seq))
		}
		p.offsets += len(b.Offsets)
		b.Offsets = nil // positions in the embedded broker, see detachedPrefix
		detach(b)
		if err := imp.Import(ctx, b); err != nil {
			return err
		}
		p.add(b)
		return nil
	})
	if err != nil {
		p.print("copied before the error:")
		return fmt.Errorf("copy: %w", err)
	}
	if err := raiseGeneration(ctx, src, dst, p.generation); err != nil {
		return err
	}
	p.print("copied:")
	printNextSteps(stdout, filepath.Dir(source), p.offsets)
	return nil
}

// parseMigrate parses the flags of `parley migrate`.
func parseMigrate(args []string, stderr io.Writer) (migrateConfig, error) {
	var c migrateConfig
	fs := newFlagSet("migrate", migrateSynopsis, stderr)
	flagsUsage := fs.Usage
	fs.Usage = func() {
		flagsUsage()
		fmt.Fprintf(stderr, "\nExamples:\n%s\n", migrateExamples)
	}
	fs.StringVar(&c.from, "from", "",
		"the source: sqlite:PATH, a database file or a data folder holding parley.db")
	fs.StringVar(&c.data, "data", "",
		"the embedded node's data folder: the same as --from sqlite:DIR (--from wins)")
	fs.StringVar(&c.to, "to", "", "the target: a postgres:// URL (sqlite:PATH also works)")
	fs.BoolVar(&c.force, "force", false,
		"copy into a target that already has users, keeping the rows it has")
	if err := parseFlags(fs, args); err != nil {
		return c, flagError(err)
	}
	if err := noArgs(fs); err != nil {
		return c, err
	}
	if c.from == "" && c.data == "" {
		return c, usageError{"missing --from sqlite:PATH or --data DIR"}
	}
	if c.to == "" {
		return c, usageError{"missing --to postgres://..."}
	}
	return c, nil
}

// sourcePath returns the path of the source's database file: PATH of
// --from sqlite:PATH, or parley.db in it or in --data when it is a folder.
func (c migrateConfig) sourcePath() (string, error) {
	path := c.data
	if c.from != "" {
		p, ok := strings.CutPrefix(c.from, "sqlite:")
		if !ok || p == "" {
			return "", usageError{fmt.Sprintf("--from %q: want sqlite:PATH", c.from)}
		}
		path = p
	}
	if fi, err := os.Stat(path); err == nil && fi.IsDir() {
		path = filepath.Join(path, "parley.db")
	}
	return filepath.Abs(path)
}

// openMigrateTarget opens the target store: PostgreSQL, or SQLite for a
// copy between two files.
func openMigrateTarget(
	ctx context.Context, to, source string, logger *slog.Logger,
) (parley.Store, parley.Importer, error) {
	if path, ok := strings.CutPrefix(to, "sqlite:"); ok {
		abs, err := filepath.Abs(path)
		if err != nil || abs == source {
			return nil, nil, usageError{"--to names the source"}
		}
		st, err := sqlite.Open(ctx, abs, logger)
		if err != nil {
			return nil, nil, fmt.Errorf("open target: %w", err)
		}
		return st, st, nil
	}
	if !strings.HasPrefix(to, "postgres://") && !strings.HasPrefix(to, "postgresql://") {
		return nil, nil, usageError{"--to: want a postgres:// URL or sqlite:PATH"}
	}
	st, err := postgres.Open(ctx, to, logger)
	if err != nil {
		return nil, nil, fmt.Errorf("open target: %w", err)
	}
	if err := st.Ping(ctx); err != nil {
		st.Close()
		return nil, nil, fmt.Errorf("open target: %w", err)
	}
	return st, st, nil
}

// raiseGeneration sets the target's Seq generation above the source's and
// above every copied entry's.
func raiseGeneration(ctx context.Context, src, dst parley.Store, copied int) error {
	g, err := src.SeqGeneration(ctx)
	if err != nil {
		return fmt.Errorf("read source generation: %w", err)
	}
	next := max(g, copied) + 1
	if next > parley.MaxSeqGeneration {
		return errors.New("the source's Seq generation is at its maximum: cannot move it again")
	}
	if err := dst.SetSeqGeneration(ctx, next); err != nil {
		return fmt.Errorf("raise target generation: %w", err)
	}
	return nil
}

// checkTarget refuses a target that has users unless force: it is in use,
// or a copy ran into it before.
func checkTarget(ctx context.Context, dst parley.Store, force bool) error {
	users, err := dst.SearchUsers(ctx, "", 1)
	if err != nil {
		return fmt.Errorf("check target: %w", err)
	}
	if len(users) > 0 && !force {
		return errors.New("the target already has users: give --force to copy into it " +
			"anyway (what it holds is kept; this is how an interrupted copy resumes)")
	}
	return nil
}

// detach moves the positions of the batch's entries out of the new
// cluster's way; see detachedPrefix.
func detach(b *parley.TransferBatch) {
	for i := range b.Messages {
		b.Messages[i].Pos.Topic = detachedPrefix + b.Messages[i].Pos.Topic
	}
	for i := range b.Notifications {
		b.Notifications[i].Pos.Topic = detachedPrefix + b.Notifications[i].Pos.Topic
	}
}

// redact hides the password of a URL.
func redact(to string) string {
	u, err := url.Parse(to)
	if err != nil || u.User == nil {
		return to
	}
	return u.Redacted()
}

// progress counts what a copy wrote and prints it now and then.
type progress struct {
	w          io.Writer
	last       time.Time
	offsets    int // archived offsets left out
	generation int // the highest Seq generation copied

	users, groups, members, entries, participants, notifications, reads int
}

// add counts a batch written, printing the counts when a while passed.
func (p *progress) add(b *parley.TransferBatch) {
	p.users += len(b.Users)
	p.groups += len(b.Groups)
	p.members += len(b.Members)
	p.entries += len(b.Messages)
	p.participants += len(b.Participants)
	p.notifications += len(b.Notifications)
	p.reads += len(b.Reads)
	if time.Since(p.last) >= progressEvery {
		p.last = time.Now()
		fmt.Fprintf(p.w, "  ... %d entries, %d notifications so far\n", p.entries, p.notifications)
	}
}

// print prints the counts under a title.
func (p *progress) print(title string) {
	fmt.Fprintln(p.w, title)
	for _, row := range []struct {
		what string
		n    int
	}{
		{"users", p.users},
		{"groups", p.groups},
		{"group members", p.members},
		{"conversation entries", p.entries},
		{"DM participants", p.participants},
		{"notifications", p.notifications},
		{"read marks", p.reads},
	} {
		fmt.Fprintf(p.w, "  %-21s %d\n", row.what, row.n)
	}
}

// printNextSteps tells the operator what to do after a copy.
func printNextSteps(w io.Writer, dataDir string, offsets int) {
	fmt.Fprintf(w, `
Not copied: the archived offsets of %d partitions (positions in the
embedded broker; the cluster's partitions start at 0) and the embedded
broker's records, whose contents the archiver had stored. The source was
not changed.

Next:
  1. Start the nodes with the cluster and the database:
       parley serve --kafka HOST:9092,... --database postgres://...
     Give each the --jwt-secret and --api-key of the embedded node, so
     that tokens and producers keep working; they are in
       %s
  2. History, groups, accounts, read state and inboxes are there. Clients'
     stream cursors are not: their live streams restart from the cluster's.
  3. If the embedded node was still running, or was not stopped cleanly,
     entries it had not archived are missing: start it again, let it
     catch up, stop it with Ctrl-C, then run this command again with
     --force to copy the rest.
`, offsets, filepath.Join(dataDir, "secrets.json"))
}
