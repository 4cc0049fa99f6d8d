package main

import (
	"context"
	"fmt"
	"io"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"
)

func init() {
	register("topics", "show and change Parley's Kafka topics (API key)", runTopics)
}

// topicsVerbs are the subcommands of `parley topics`.
var topicsVerbs = map[string]subcommand{
	"list": {"list the topics (the default)", topicsList},
	"set":  {"change a topic's retention or partition count", topicsSet},
}

const topicsExamples = `  parley topics
  parley topics set direct-messages --retention 72h --partitions 12`

// runTopics is `parley topics`.
func runTopics(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	return dispatch(ctx, "topics", "list", topicsVerbs, topicsExamples, args, stdout, stderr)
}

// topic is a Kafka topic as GET /v1/admin/topics describes it.
type topic struct {
	Name              string      `json:"name"`
	ReplicationFactor int         `json:"replication_factor"`
	Partitions        []partition `json:"partitions"`
	// RetentionMs is retention.ms, -1 for forever; nil when the server
	// left it out, and then the configs may hold it.
	RetentionMs *int64            `json:"retention_ms"`
	Configs     map[string]string `json:"configs"`
	Lag         map[string]int64  `json:"consumer_lag"`
}

// partition is one partition of a topic.
type partition struct {
	Partition int32 `json:"partition"`
	Start     int64 `json:"start_offset"`
	End       int64 `json:"end_offset"`
}

const topicsListSynopsis = `
topics [list] [flags]

Lists Parley's topics: partitions, replication factor, retention, the
records they hold and, per consumer group, the records it has yet to read.`

// topicsList is `parley topics list`.
func topicsList(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs, o := newClientFlags("topics list", topicsListSynopsis,
		"  parley topics --api-key $KEY\n  parley topics list --json", stderr)
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	if err := wantArgs(pos, 0, ""); err != nil {
		return err
	}
	c, err := o.serverClient()
	if err != nil {
		return err
	}

	var answer struct {
		Topics []topic `json:"topics"`
	}
	raw, err := c.call(ctx, "GET", "/v1/admin/topics", nil, &answer)
	if err != nil {
		return err
	}
	if o.json {
		printRaw(stdout, raw)
		return nil
	}
	printTopics(stdout, answer.Topics)
	return nil
}

// printTopics writes topics as a table.
func printTopics(w io.Writer, topics []topic) {
	t := newTable(w)
	fmt.Fprintln(t, "TOPIC\tPARTITIONS\tREPLICAS\tRETENTION\tRECORDS\tLAG")
	for _, tp := range topics {
		var records int64
		for _, p := range tp.Partitions {
			records += p.End - p.Start
		}
		fmt.Fprintf(t, "%s\t%d\t%d\t%s\t%d\t%s\n", clean(tp.Name), len(tp.Partitions),
			tp.ReplicationFactor, tp.retention(), records, lagText(tp.Lag))
	}
	t.Flush()
}

// retention renders the topic's retention: "7d", "36h", "forever".
func (tp *topic) retention() string {
	if tp.RetentionMs != nil {
		return formatRetention(*tp.RetentionMs)
	}
	ms, err := strconv.ParseInt(tp.Configs["retention.ms"], 10, 64)
	if err != nil {
		return "-"
	}
	return formatRetention(ms)
}

// formatRetention renders a retention.ms value.
func formatRetention(ms int64) string {
	if ms < 0 {
		return "forever"
	}
	d := time.Duration(ms) * time.Millisecond
	const day = 24 * time.Hour
	if d >= day && d%day == 0 {
		return fmt.Sprintf("%dd", d/day)
	}
	s := d.String() // 36h0m0s, 1h30m0s, 1.5s
	s = strings.TrimSuffix(s, "m0s")
	if strings.HasSuffix(s, "h0") {
		s = strings.TrimSuffix(s, "0")
	} else if d >= time.Minute && d%time.Minute == 0 {
		s += "m"
	}
	return s
}

// lagText renders consumer-group lag: "parley-archiver=0, reports=12".
func lagText(lag map[string]int64) string {
	if len(lag) == 0 {
		return "-"
	}
	parts := make([]string, 0, len(lag))
	for _, g := range slices.Sorted(maps.Keys(lag)) {
		parts = append(parts, fmt.Sprintf("%s=%d", clean(g), lag[g]))
	}
	return strings.Join(parts, ", ")
}

const topicsSetSynopsis = `
topics set NAME [--retention DURATION] [--partitions N] [flags]

Changes a topic's retention or raises its partition count (Kafka cannot
lower it), then prints the topic as it is now. A retention is a duration
such as 72h or 7d, or "forever". Adding partitions moves keys to other
partitions: messages sent after the change may be ordered apart from the
ones before it.`

const topicsSetExamples = `  parley topics set direct-messages --retention 72h
  parley topics set group-messages --partitions 12
  parley topics set notifications --retention forever`

// topicsSet is `parley topics set`.
func topicsSet(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs, o := newClientFlags("topics set", topicsSetSynopsis, topicsSetExamples, stderr)
	retention := fs.String("retention", "", "keep records this long: 72h, 7d or forever")
	partitions := fs.Int("partitions", 0, "raise the partition count to this")
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	if err := wantArgs(pos, 1, "the topic name"); err != nil {
		return err
	}
	update, err := topicUpdate(*retention, *partitions)
	if err != nil {
		return err
	}

	c, err := o.serverClient()
	if err != nil {
		return err
	}
	var tp topic
	raw, err := c.call(ctx, "PATCH", apiPath("/v1/admin/topics/%s", pos[0]), update, &tp)
	if err != nil {
		return err
	}
	if o.json {
		printRaw(stdout, raw)
		return nil
	}
	printTopics(stdout, []topic{tp})
	return nil
}

// topicChange is the body of PATCH /v1/admin/topics/{name}.
type topicChange struct {
	RetentionMs *int64 `json:"retention_ms,omitempty"`
	Partitions  *int   `json:"partitions,omitempty"`
}

// topicUpdate checks the flags of `parley topics set` and returns the
// change they ask for.
func topicUpdate(retention string, partitions int) (topicChange, error) {
	var u topicChange
	if retention != "" {
		ms, err := parseRetention(retention)
		if err != nil {
			return u, err
		}
		u.RetentionMs = &ms
	}
	switch {
	case partitions < 0:
		return u, usageError{"--partitions must be 1 or more"}
	case partitions > 0:
		u.Partitions = &partitions
	}
	if u.RetentionMs == nil && u.Partitions == nil {
		return u, usageError{"nothing to change: give --retention or --partitions"}
	}
	return u, nil
}

// parseRetention parses a --retention value into retention.ms: a Go
// duration, a number of days ("7d"), or "forever" (-1).
func parseRetention(s string) (int64, error) {
	if s == "forever" || s == "-1" {
		return -1, nil
	}
	d, err := time.ParseDuration(s)
	if days, ok := strings.CutSuffix(s, "d"); ok {
		var n int64
		n, err = strconv.ParseInt(days, 10, 64)
		d = time.Duration(n) * 24 * time.Hour
	}
	if err != nil || d < time.Millisecond {
		return 0, usageError{fmt.Sprintf("--retention %q: want a duration such as 72h or 7d, "+
			"or forever", s)}
	}
	return d.Milliseconds(), nil
}
