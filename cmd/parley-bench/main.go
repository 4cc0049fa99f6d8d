// Command parley-bench is Parley's load tool. It drives a running Parley,
// or a Centrifugo v6 server for comparison, only through their public
// interfaces (WebSocket clients, HTTP senders, a plain Kafka producer) and
// reports send-to-deliver latency, deliveries and frames per second,
// messages lost or duplicated, errors, and the server's CPU and RSS.
//
// Usage:
//
//	parley-bench SCENARIO [flags]   run a scenario: dm, fanout, notify, idle
//	parley-bench merge FILE...      add up the JSON results of a run's shards
//	parley-bench broker --listen A  run a bare embedded broker (for Centrifugo)
//
// Every message body the tool sends carries its ID, its send time and its
// recipient, so a reader matches what it gets with what the server
// acknowledged without decoding whole events. Latency is measured from
// the time a send was scheduled, so a server that falls behind shows it.
//
// One process holds at most about 19,900 sockets here; a scenario that
// needs more runs as several processes with --shard i/n and the same
// --tag and --start-at, each writing --json, then merge adds them up.
// docs/benchmarks.md has the commands behind every published figure.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime/pprof"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/parley-chat/parley/internal/broker"
)

const usage = `usage: parley-bench SCENARIO [flags]   (dm, fanout, notify, idle)
       parley-bench merge [--json FILE] RESULT.json...
       parley-bench broker --listen ADDR --data DIR
Run "parley-bench SCENARIO --help" for the flags.
`

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run1(ctx, os.Args[1:], os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "parley-bench:", err)
		os.Exit(1)
	}
}

// run1 is main without the process around it, so the smoke test can call
// it too.
func run1(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return errors.New("no scenario")
	}
	switch args[0] {
	case "merge":
		return mergeCmd(args[1:], stdout)
	case "broker":
		return brokerCmd(ctx, args[1:], stderr)
	case "dm", "fanout", "notify", "idle":
	default:
		fmt.Fprint(stderr, usage)
		return fmt.Errorf("unknown scenario %q", args[0])
	}

	o, err := parseOptions(args[0], args[1:], stderr)
	if err != nil {
		return err
	}
	var tgt target
	switch o.target {
	case "parley":
		tgt, err = newParleyTarget(ctx, o)
	case "centrifugo":
		tgt, err = newCentrifugoTarget(ctx, o)
	default:
		err = fmt.Errorf("unknown target %q", o.target)
	}
	if err != nil {
		return err
	}
	defer tgt.close()

	if o.cpuProfile != "" {
		stopProfile, err := startCPUProfile(o.cpuProfile)
		if err != nil {
			return err
		}
		defer stopProfile()
	}
	res, err := execute(ctx, o, tgt)
	if err != nil {
		return fmt.Errorf("%s: %w", o.scenario, err)
	}
	printTable(stdout, res)
	return writeJSON(o.jsonPath, res)
}

// options are a scenario's flags.
type options struct {
	scenario    string
	target      string
	addr        string
	secret      string
	apiKey      string
	kafkaAddr   string
	notifyTopic string
	pid         int
	sender      string
	dmTo        string
	workers     int
	pairs       int
	members     int
	conns       int
	rates       []float64
	step        time.Duration
	warmup      time.Duration
	drain       time.Duration
	settle      time.Duration
	hold        time.Duration
	stopP99     time.Duration
	shard       struct{ i, n int }
	startAt     time.Time
	tag         string
	jsonPath    string
	cpuProfile  string
	progress    io.Writer
}

func parseOptions(scenario string, args []string, stderr io.Writer) (*options, error) {
	o := &options{scenario: scenario, progress: stderr}
	fs := flag.NewFlagSet(scenario, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&o.target, "target", "parley", "server kind: parley or centrifugo")
	fs.StringVar(&o.addr, "addr", "127.0.0.1:8080", "the server's HTTP address")
	fs.StringVar(&o.secret, "jwt-secret", "", "secret that signs user tokens (Parley's --jwt-secret, "+
		"Centrifugo's client.token.hmac_secret_key)")
	fs.StringVar(&o.apiKey, "api-key", "", "Centrifugo's http_api.key")
	fs.StringVar(&o.kafkaAddr, "kafka", "127.0.0.1:9092", "Kafka broker for notify")
	fs.StringVar(&o.notifyTopic, "topic", "", "topic notify produces to "+
		"(default notifications for Parley, bench-notifications for Centrifugo)")
	fs.IntVar(&o.pid, "pid", 0, "PID of the server, to sample its CPU and RSS; 0 samples nothing")
	fs.StringVar(&o.sender, "sender", "http", "how dm sends to Parley: http or ws")
	fs.StringVar(&o.dmTo, "dm-to", "both", "whose channels dm publishes to on Centrifugo: both "+
		"participants' (as Parley delivers a DM) or the recipient's")
	fs.IntVar(&o.workers, "workers", 256, "concurrent senders")
	fs.IntVar(&o.pairs, "pairs", 500, "dm: user pairs (two connections each)")
	fs.IntVar(&o.members, "members", 1000, "fanout: connected members of the group")
	fs.IntVar(&o.conns, "conns", 1000, "notify: connected recipients; idle: connections")
	rates := fs.String("rates", "1000", "offered sends per second, one step each, comma-separated")
	fs.DurationVar(&o.step, "step", 10*time.Second, "how long each rate is held")
	fs.DurationVar(&o.warmup, "warmup", 2*time.Second, "sending at the first rate before measuring")
	fs.DurationVar(&o.drain, "drain", time.Second, "wait after each step for its deliveries")
	fs.DurationVar(&o.settle, "settle", 5*time.Second, "wait at the end for late deliveries")
	fs.DurationVar(&o.hold, "hold", 10*time.Second, "idle: how long connections stay before RSS is read")
	fs.DurationVar(&o.stopP99, "stop-p99", 0, "stop stepping once a step's p99 passes this (0: never)")
	shard := fs.String("shard", "0/1", "this process's part of the run, i/n")
	startAt := fs.Float64("start-at", 0, "Unix time at which the shards start measuring (0: at once)")
	fs.StringVar(&o.tag, "tag", "", "prefix of user and group names (default: from the clock)")
	fs.StringVar(&o.jsonPath, "json", "", "write the result as JSON to this file (- for stdout)")
	fs.StringVar(&o.cpuProfile, "cpuprofile", "", "write this process's CPU profile to this file")
	quiet := fs.Bool("quiet", false, "print no progress")
	if err := fs.Parse(args); err != nil {
		return nil, err
	}

	if _, err := fmt.Sscanf(*shard, "%d/%d", &o.shard.i, &o.shard.n); err != nil ||
		o.shard.n < 1 || o.shard.i < 0 || o.shard.i >= o.shard.n {
		return nil, fmt.Errorf("--shard %q: want i/n with 0 <= i < n", *shard)
	}
	for _, f := range strings.Split(*rates, ",") {
		v, err := strconv.ParseFloat(strings.TrimSpace(f), 64)
		if err != nil || v < 0 {
			return nil, fmt.Errorf("--rates: bad rate %q", f)
		}
		o.rates = append(o.rates, v)
	}
	if *startAt > 0 {
		o.startAt = time.Unix(0, int64(*startAt*1e9))
	}
	if o.tag == "" {
		o.tag = "pb" + strconv.FormatInt(time.Now().Unix()%1e6, 36)
	}
	if o.notifyTopic == "" {
		o.notifyTopic = "notifications"
		if o.target == "centrifugo" {
			o.notifyTopic = "bench-notifications"
		}
	}
	if o.secret == "" {
		return nil, errors.New("--jwt-secret is required")
	}
	switch {
	case o.dmTo != "both" && o.dmTo != "recipient":
		return nil, fmt.Errorf("--dm-to %q: want both or recipient", o.dmTo)
	case o.dmTo == "recipient" && o.target != "centrifugo":
		return nil, errors.New("--dm-to recipient is for Centrifugo: Parley delivers every DM " +
			"to both participants")
	}
	if o.shard.n > 1 {
		o.stopP99 = 0 // shards would stop at different steps
	}
	if *quiet {
		o.progress = nil
	}
	return o, nil
}

// params records the flags that shape a result.
func (o *options) params() map[string]any {
	return map[string]any{
		"addr": o.addr, "sender": o.sender, "dm_to": o.dmTo, "workers": o.workers, "pairs": o.pairs,
		"members": o.members, "conns": o.conns, "rates": o.rates, "step_s": o.step.Seconds(),
		"warmup_s": o.warmup.Seconds(), "hold_s": o.hold.Seconds(), "tag": o.tag,
	}
}

func writeJSON(path string, v any) error {
	if path == "" {
		return nil
	}
	b, err := json.MarshalIndent(v, "", " ")
	if err != nil {
		return fmt.Errorf("encode result: %w", err)
	}
	if path == "-" {
		_, err = os.Stdout.Write(append(b, '\n'))
		return err
	}
	if err := os.WriteFile(path, append(b, '\n'), 0o644); err != nil {
		return fmt.Errorf("write result: %w", err)
	}
	return nil
}

// startCPUProfile profiles the tool itself, to see what it costs next to
// the server it measures on the same cores.
func startCPUProfile(path string) (stop func(), err error) {
	f, err := os.Create(path)
	if err != nil {
		return nil, fmt.Errorf("create CPU profile: %w", err)
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		f.Close()
		return nil, fmt.Errorf("start CPU profile: %w", err)
	}
	return func() {
		pprof.StopCPUProfile()
		f.Close()
	}, nil
}

// brokerCmd runs Parley's embedded broker alone, so that Centrifugo's
// Kafka consumer has a broker without a Parley server beside it.
func brokerCmd(ctx context.Context, args []string, stderr io.Writer) error {
	fs := flag.NewFlagSet("broker", flag.ContinueOnError)
	fs.SetOutput(stderr)
	listen := fs.String("listen", "127.0.0.1:19092", "address to listen on")
	data := fs.String("data", "", "data folder (empty: in memory)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	b, err := broker.Start(ctx, broker.Config{Listen: *listen, DataDir: *data})
	if err != nil {
		return fmt.Errorf("start broker: %w", err)
	}
	fmt.Fprintln(stderr, "broker listening on", b.Addr())
	<-ctx.Done()
	return b.Close()
}
