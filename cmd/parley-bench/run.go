package main

import (
	"context"
	"fmt"
	"os"
	"sync"
	"sync/atomic"
	"time"
)

// target is a server under test. Implementations: parleyTarget and
// centrifugoTarget. The run calls connect and setupGroup before any send;
// the send methods are called from many goroutines at once and record an
// acknowledgement with run.ack, now or when the answer arrives.
type target interface {
	name() string
	// connect opens a live connection for user that receives the user's
	// own events and, for a non-empty group, the group's.
	connect(ctx context.Context, r *run, user, group string) (*conn, error)
	setupGroup(ctx context.Context, group, owner string, members []string) error
	waitGroup(ctx context.Context, group, owner string, members int) error
	sendDM(ctx context.Context, r *run, from, to string, id uint64, body string) error
	sendGroup(ctx context.Context, r *run, from, group string, id uint64, body string, want int) error
	notify(ctx context.Context, r *run, to string, id uint64, body string) error
	close()
}

// step is one offered rate held for a while. Deliveries are counted in the
// step whose window holds their send time.
type step struct {
	rate      float64
	start     int64        // send-time window, Unix ns
	end       atomic.Int64 // 0 while the step is open
	h         hist
	delivered atomic.Int64
}

// run is the state of one process's part of a scenario.
type run struct {
	o     *options
	tgt   target
	c     counters
	t     *tally
	conns map[string]*conn // by user; fixed once the sends start
	self  *watcher         // this process

	// steps is replaced, never changed, when a step starts.
	steps atomic.Pointer[[]*step]

	// seq numbers the messages of this process.
	seq atomic.Int64

	// want is the number of deliveries acknowledged sends call for.
	want atomic.Int64

	// jobs feeds the sending workers.
	jobs chan func(context.Context)
}

func newRun(o *options, tgt target) *run {
	r := &run{o: o, tgt: tgt, t: newTally(), conns: map[string]*conn{},
		self: &watcher{pid: os.Getpid()}}
	r.t.keepTimes = o.scenario == "fanout"
	r.steps.Store(&[]*step{})
	r.jobs = make(chan func(context.Context), 4*o.workers)
	return r
}

// ack records an acknowledged send.
func (r *run) ack(id uint64, want int) {
	r.c.acked.Add(1)
	r.want.Add(int64(want))
	r.t.Ack(id, want)
}

// delivered records the first arrival of id at one recipient.
func (r *run) delivered(id uint64, sentNs int64) {
	lat := time.Duration(time.Now().UnixNano() - sentNs)
	r.c.deliveries.Add(1)
	r.t.Got(id, sentNs, lat)
	steps := *r.steps.Load()
	for i := len(steps) - 1; i >= 0; i-- {
		s := steps[i]
		if end := s.end.Load(); sentNs >= s.start && (end == 0 || sentNs < end) {
			s.h.Record(lat)
			s.delivered.Add(1)
			return
		}
		if sentNs >= s.start {
			return
		}
	}
}

// connectAll opens a connection for each user, width at a time, and
// starts their read loops under ctx.
func (r *run) connectAll(ctx context.Context, users []string, group string) error {
	var mu sync.Mutex
	err := parallel(ctx, 32, len(users), func(cctx context.Context, i int) error {
		c, err := r.tgt.connect(cctx, r, users[i], group)
		if err != nil {
			return fmt.Errorf("connect %s: %w", users[i], err)
		}
		mu.Lock()
		r.conns[users[i]] = c
		mu.Unlock()
		go c.readLoop(ctx)
		return nil
	})
	return err
}

func (r *run) closeAll() {
	var wg sync.WaitGroup
	for _, c := range r.conns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c.close()
		}()
	}
	wg.Wait()
}

// startWorkers starts the goroutines that run the scheduled sends; they
// end when ctx does.
func (r *run) startWorkers(ctx context.Context) {
	for range r.o.workers {
		go func() {
			for {
				select {
				case <-ctx.Done():
					return
				case job := <-r.jobs:
					job(ctx)
				}
			}
		}()
	}
}

// drive offers sends at rate per second for d, open loop: the schedule
// does not wait for answers. A send that finds every worker busy and the
// queue full is counted as overflow, not sent. send gets the send's
// number and its scheduled time, which goes into the body: latency then
// includes any time the send waited, as a user would see it.
func (r *run) drive(ctx context.Context, rate float64, d time.Duration,
	send func(ctx context.Context, n int64, at time.Time) error) {
	if rate <= 0 || send == nil {
		sleep(ctx, d)
		return
	}
	start := time.Now()
	tick := time.NewTicker(time.Millisecond)
	defer tick.Stop()
	var n int64
	for {
		el := time.Since(start)
		if el >= d || ctx.Err() != nil {
			return
		}
		due := int64(rate*el.Seconds()) + 1 // send n is due at n/rate
		for ; n < due; n++ {
			at := start.Add(time.Duration(float64(n) / rate * float64(time.Second)))
			i := n
			job := func(ctx context.Context) {
				if err := send(ctx, i, at); err != nil && ctx.Err() == nil {
					r.c.fail(err)
				}
			}
			r.c.sent.Add(1)
			select {
			case r.jobs <- job:
			default:
				r.c.sent.Add(-1)
				r.c.overflow.Add(1)
			}
		}
		select {
		case <-ctx.Done():
		case <-tick.C:
		}
	}
}

// stepResult is one step of a run.
type stepResult struct {
	Rate            float64        `json:"offered_per_s"`
	Seconds         float64        `json:"seconds"`
	Sent            int64          `json:"sent"`
	Acked           int64          `json:"acked"`
	Delivered       int64          `json:"delivered"`
	DeliveredPerSec float64        `json:"delivered_per_s"`
	FramesPerSec    float64        `json:"frames_per_s"`
	EventsPerFrame  float64        `json:"events_per_frame"`
	Errors          int64          `json:"errors"`
	Overflow        int64          `json:"overflow"`
	Latency         quantiles      `json:"latency"`
	Completion      *quantiles     `json:"broadcast_completion,omitempty"`
	Server          serverUse      `json:"server"`
	Tool            serverUse      `json:"tool"` // this process
	Hist            map[int]uint64 `json:"hist,omitempty"`
}

// runSteps holds each rate for o.step after a warm-up at the first rate,
// and stops early once a step's p99 passes o.stopP99 or it delivers less
// than 90% of what it offered.
func (r *run) runSteps(ctx context.Context, w *watcher, rates []float64, perMsg int,
	send func(ctx context.Context, n int64, at time.Time) error) []stepResult {
	if r.o.warmup > 0 && len(rates) > 0 {
		r.drive(ctx, rates[0], r.o.warmup, send)
		sleep(ctx, r.o.drain)
	}
	var out []stepResult
	for _, rate := range rates {
		if ctx.Err() != nil {
			break
		}
		s := &step{rate: rate, start: time.Now().UnixNano()}
		old := *r.steps.Load()
		steps := append(append([]*step{}, old...), s)
		r.steps.Store(&steps)

		frames0, events0 := r.c.frames.Load(), r.c.events.Load()
		sent0, acked0, errs0, over0 := r.c.sent.Load(), r.c.acked.Load(), r.c.errors.Load(), r.c.overflow.Load()
		p0, t0 := w.sample(), r.self.sample()
		r.drive(ctx, rate, r.o.step, send)
		p1, t1 := w.sample(), r.self.sample()
		frames, events := r.c.frames.Load()-frames0, r.c.events.Load()-events0
		// Sends scheduled before end are in this step; so is every
		// delivery of them, even during the drain.
		end := time.Now().UnixNano()
		s.end.Store(end)
		sleep(ctx, r.o.drain)

		secs := float64(end-s.start) / 1e9
		res := stepResult{
			Rate: rate, Seconds: secs,
			Sent: r.c.sent.Load() - sent0, Acked: r.c.acked.Load() - acked0,
			Delivered: s.delivered.Load(), Errors: r.c.errors.Load() - errs0,
			Overflow: r.c.overflow.Load() - over0,
			Server:   w.between(p0, p1),
			Tool:     r.self.between(t0, t1),
			Hist:     s.h.sparse(),
		}
		res.DeliveredPerSec = float64(res.Delivered) / secs
		res.FramesPerSec = float64(frames) / secs
		if frames > 0 {
			res.EventsPerFrame = float64(events) / float64(frames)
		}
		res.Latency = summarise(res.Hist)
		if r.t.keepTimes {
			q := summarise(r.t.completion(s.start, end))
			res.Completion = &q
		}
		out = append(out, res)
		if r.o.progress != nil {
			fmt.Fprintf(r.o.progress, "step %.0f/s: delivered %.0f/s p50 %.1f ms p99 %.1f ms errors %d "+
				"server CPU %.0f%% tool CPU %.0f%%\n", rate, res.DeliveredPerSec, res.Latency.P50,
				res.Latency.P99, res.Errors, res.Server.CPUPercent, res.Tool.CPUPercent)
		}
		offered := rate * secs * float64(perMsg)
		if r.o.stopP99 > 0 && (res.Latency.P99 > float64(r.o.stopP99.Milliseconds()) ||
			float64(res.Delivered) < 0.9*offered) {
			break
		}
	}
	return out
}

// settle waits up to d for every acknowledged message to reach all its
// recipients.
// A sharded run cannot tell (its recipients are spread over processes),
// so it waits the whole time.
func (r *run) settle(ctx context.Context, d time.Duration) {
	if r.o.shard.n > 1 {
		sleep(ctx, d)
		return
	}
	deadline := time.Now().Add(d)
	for time.Now().Before(deadline) && ctx.Err() == nil {
		if r.c.deliveries.Load() >= r.want.Load() {
			if _, lost, _ := r.t.export(false).losses(); lost == 0 {
				return
			}
		}
		sleep(ctx, 200*time.Millisecond)
	}
}

func sleep(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
}
