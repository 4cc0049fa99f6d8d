package main

import (
	"context"
	"fmt"
	"strconv"
	"time"
)

// result is what one process measured in one scenario; merge adds up the
// results of a run's shards.
type result struct {
	Scenario  string         `json:"scenario"`
	Target    string         `json:"target"`
	Shard     string         `json:"shard"`
	Started   time.Time      `json:"started"`
	Params    map[string]any `json:"params"`
	Steps     []stepResult   `json:"steps,omitempty"`
	Idle      *idleResult    `json:"idle,omitempty"`
	Sent      int64          `json:"sent"`
	Acked     int64          `json:"acked"`
	Delivered int64          `json:"delivered"`
	Lost      int64          `json:"lost"`
	Dups      int64          `json:"duplicates"`
	Extra     int64          `json:"extra_deliveries"`
	Errors    int64          `json:"errors"`
	Overflow  int64          `json:"overflow"`
	LastError string         `json:"last_error,omitempty"`
	// LoadAvg is /proc/loadavg at the start and the end: the machine may
	// run other work beside the server and the tool.
	LoadAvg [2]string `json:"loadavg"`
	// IDs are written by a shard of a sharded run, for merge.
	IDs *ids `json:"ids,omitempty"`
}

// idleResult is the idle scenario's measure.
type idleResult struct {
	Conns       int     `json:"conns"`
	BaseRSSMiB  float64 `json:"base_rss_mib"`
	RSSMiB      float64 `json:"rss_mib"`
	KiBPerConn  float64 `json:"kib_per_conn"`
	ConnectSecs float64 `json:"connect_seconds"`
}

// users returns the names i of n, numbered 0..n-1 with prefix, that
// belong to shard sh.
func (o *options) users(prefix string, n int) (mine, all []string) {
	for j := range n {
		u := o.tag + prefix + strconv.Itoa(j)
		all = append(all, u)
		if j%o.shard.n == o.shard.i {
			mine = append(mine, u)
		}
	}
	return mine, all
}

// waitStart waits for --start-at, which lines up the shards of a run.
func (o *options) waitStart(ctx context.Context) {
	if o.startAt.IsZero() {
		return
	}
	if d := time.Until(o.startAt); d > 0 {
		sleep(ctx, d)
	}
}

// rates returns the offered rates of this shard: a sharded run splits
// each rate evenly when every shard sends, and gives all of it to shard 0
// when only one sender makes sense.
func (o *options) shardRates(split bool) []float64 {
	out := make([]float64, len(o.rates))
	for i, r := range o.rates {
		switch {
		case split:
			out[i] = r / float64(o.shard.n)
		case o.shard.i == 0:
			out[i] = r
		}
	}
	return out
}

// nextID numbers the tool's messages; the shard is in the top bits so IDs
// stay unique across a sharded run.
func (r *run) nextID() uint64 {
	return uint64(r.o.shard.i)<<48 | uint64(r.seq.Add(1))
}

func runDM(ctx context.Context, r *run, w *watcher) ([]stepResult, error) {
	o := r.o
	pairs := []([2]string){}
	var users []string
	for p := range o.pairs {
		if p%o.shard.n != o.shard.i {
			continue
		}
		a, b := o.tag+"a"+strconv.Itoa(p), o.tag+"b"+strconv.Itoa(p)
		pairs = append(pairs, [2]string{a, b})
		users = append(users, a, b)
	}
	if len(pairs) == 0 {
		return nil, fmt.Errorf("shard %d/%d has no pairs", o.shard.i, o.shard.n)
	}
	if err := r.connectAll(ctx, users, ""); err != nil {
		return nil, err
	}
	o.waitStart(ctx)

	send := func(ctx context.Context, n int64, at time.Time) error {
		p := pairs[n%int64(len(pairs))]
		from, to := p[0], p[1]
		if (n/int64(len(pairs)))%2 == 1 {
			from, to = to, from
		}
		id := r.nextID()
		return r.tgt.sendDM(ctx, r, from, to, id, makeBody(id, at, to))
	}
	return r.runSteps(ctx, w, o.shardRates(true), 1, send), nil
}

func runFanout(ctx context.Context, r *run, w *watcher) ([]stepResult, error) {
	o := r.o
	mine, all := o.users("m", o.members)
	group, owner := o.tag+"g", o.tag+"o"
	if o.shard.i == 0 {
		if err := r.tgt.setupGroup(ctx, group, owner, all); err != nil {
			return nil, err
		}
	} else if err := r.tgt.waitGroup(ctx, group, owner, len(all)); err != nil {
		return nil, err
	}
	if err := r.connectAll(ctx, mine, group); err != nil {
		return nil, err
	}
	// Let the membership events of the set-up pass before measuring.
	sleep(ctx, time.Second)
	o.waitStart(ctx)

	var send func(ctx context.Context, n int64, at time.Time) error
	if o.shard.i == 0 {
		send = func(ctx context.Context, n int64, at time.Time) error {
			id := r.nextID()
			return r.tgt.sendGroup(ctx, r, owner, group, id, makeBody(id, at, "*"), len(all))
		}
	}
	return r.runSteps(ctx, w, o.shardRates(false), len(mine), send), nil
}

func runNotify(ctx context.Context, r *run, w *watcher) ([]stepResult, error) {
	o := r.o
	mine, all := o.users("n", o.conns)
	if err := r.connectAll(ctx, mine, ""); err != nil {
		return nil, err
	}
	o.waitStart(ctx)

	var send func(ctx context.Context, n int64, at time.Time) error
	if o.shard.i == 0 {
		send = func(ctx context.Context, n int64, at time.Time) error {
			to := all[n%int64(len(all))]
			id := r.nextID()
			return r.tgt.notify(ctx, r, to, id, makeBody(id, at, to))
		}
	}
	return r.runSteps(ctx, w, o.shardRates(false), 1, send), nil
}

// runIdle connects o.conns connections that then do nothing, and reports
// the server's RSS growth per connection after o.hold.
func runIdle(ctx context.Context, r *run, w *watcher) (*idleResult, error) {
	o := r.o
	mine, _ := o.users("i", o.conns)
	base := w.sample()
	start := time.Now()
	if err := r.connectAll(ctx, mine, ""); err != nil {
		return nil, err
	}
	res := &idleResult{Conns: len(mine), ConnectSecs: time.Since(start).Seconds(),
		BaseRSSMiB: float64(base.rssKiB) / 1024}
	if !o.startAt.IsZero() {
		o.waitStart(ctx)
	}
	sleep(ctx, o.hold)
	end := w.sample()
	res.RSSMiB = float64(end.rssKiB) / 1024
	if res.Conns > 0 {
		res.KiBPerConn = float64(end.rssKiB-base.rssKiB) / float64(o.conns)
	}
	return res, nil
}

// execute runs o.scenario against tgt and returns this process's result.
func execute(ctx context.Context, o *options, tgt target) (*result, error) {
	r := newRun(o, tgt)
	w := &watcher{pid: o.pid}
	wctx, stopWatch := context.WithCancel(ctx)
	defer stopWatch()
	go w.run(wctx, 500*time.Millisecond)

	// Connections and workers live under rctx; they end with the run.
	rctx, stop := context.WithCancel(ctx)
	defer func() {
		stop()
		r.closeAll()
	}()
	r.startWorkers(rctx)

	res := &result{Scenario: o.scenario, Target: tgt.name(), Started: time.Now().UTC(),
		Shard: fmt.Sprintf("%d/%d", o.shard.i, o.shard.n), Params: o.params()}
	res.LoadAvg[0] = loadAvg()
	var err error
	switch o.scenario {
	case "dm":
		res.Steps, err = runDM(rctx, r, w)
	case "fanout":
		res.Steps, err = runFanout(rctx, r, w)
	case "notify":
		res.Steps, err = runNotify(rctx, r, w)
	case "idle":
		res.Idle, err = runIdle(rctx, r, w)
	default:
		err = fmt.Errorf("unknown scenario %q", o.scenario)
	}
	if err != nil {
		return nil, err
	}
	if res.Idle == nil {
		r.settle(rctx, o.settle)
	}
	r.fill(res)
	res.LoadAvg[1] = loadAvg()
	return res, nil
}

// fill copies the run's totals into res and, for an unsharded run, checks
// what was acknowledged against what arrived.
func (r *run) fill(res *result) {
	res.Sent, res.Acked = r.c.sent.Load(), r.c.acked.Load()
	res.Delivered, res.Dups = r.c.deliveries.Load(), r.c.dups.Load()
	res.Errors, res.Overflow = r.c.errors.Load(), r.c.overflow.Load()
	if e, ok := r.c.lastErr.Load().(string); ok {
		res.LastError = e
	}
	x := r.t.export(r.o.shard.n > 1 && r.t.keepTimes)
	if r.o.shard.n > 1 {
		res.IDs = &x
		return
	}
	_, res.Lost, res.Extra = x.losses()
}
