package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"text/tabwriter"
)

// printTable writes res for people.
func printTable(w io.Writer, res *result) {
	fmt.Fprintf(w, "%s on %s, shard %s\n", res.Scenario, res.Target, res.Shard)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	if res.Idle != nil {
		i := res.Idle
		fmt.Fprintln(tw, "conns\tconnect s\tbase RSS MiB\tRSS MiB\tKiB/conn\t")
		fmt.Fprintf(tw, "%d\t%.1f\t%.1f\t%.1f\t%.1f\t\n", i.Conns, i.ConnectSecs, i.BaseRSSMiB,
			i.RSSMiB, i.KiBPerConn)
	} else {
		fmt.Fprintln(tw, "offered/s\tdelivered/s\tp50 ms\tp99 ms\tp999 ms\tall-p99 ms\t"+
			"frames/s\tev/frame\terrors\tsrv CPU%\tRSS MiB\ttool CPU%\t")
		for _, s := range res.Steps {
			comp := "-"
			if s.Completion != nil {
				comp = fmt.Sprintf("%.1f", s.Completion.P99)
			}
			fmt.Fprintf(tw, "%.0f\t%.0f\t%.2f\t%.2f\t%.2f\t%s\t%.0f\t%.1f\t%d\t%.0f\t%.0f\t%.0f\t\n",
				s.Rate, s.DeliveredPerSec, s.Latency.P50, s.Latency.P99, s.Latency.P999, comp,
				s.FramesPerSec, s.EventsPerFrame, s.Errors, s.Server.CPUPercent, s.Server.RSSMiB,
				s.Tool.CPUPercent)
		}
	}
	tw.Flush()
	fmt.Fprintf(w, "sent %d, acked %d, delivered %d, lost %d, duplicates %d, errors %d, overflow %d\n",
		res.Sent, res.Acked, res.Delivered, res.Lost, res.Dups, res.Errors, res.Overflow)
	if res.LastError != "" {
		fmt.Fprintf(w, "last error: %s\n", res.LastError)
	}
}

// mergeCmd adds up the results of a sharded run's processes.
func mergeCmd(args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("merge", flag.ContinueOnError)
	jsonPath := fs.String("json", "", "write the merged result to this file (- for stdout)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	var parts []*result
	for _, p := range fs.Args() {
		b, err := os.ReadFile(p)
		if err != nil {
			return fmt.Errorf("read result: %w", err)
		}
		var r result
		if err := json.Unmarshal(b, &r); err != nil {
			return fmt.Errorf("decode %s: %w", p, err)
		}
		parts = append(parts, &r)
	}
	if len(parts) == 0 {
		return fmt.Errorf("merge: no results")
	}
	m := merge(parts)
	printTable(stdout, m)
	return writeJSON(*jsonPath, m)
}

func merge(parts []*result) *result {
	m := *parts[0]
	m.Shard = fmt.Sprintf("merged %d", len(parts))
	m.Steps, m.Idle = nil, nil
	m.Sent, m.Acked, m.Delivered, m.Dups, m.Errors, m.Overflow = 0, 0, 0, 0, 0, 0
	var x ids
	for _, p := range parts {
		m.Sent += p.Sent
		m.Acked += p.Acked
		m.Delivered += p.Delivered
		m.Dups += p.Dups
		m.Errors += p.Errors
		m.Overflow += p.Overflow
		if p.LastError != "" {
			m.LastError = p.LastError
		}
		if p.IDs != nil {
			x.merge(*p.IDs)
		}
		m.Steps = mergeSteps(m.Steps, p.Steps)
		if p.Idle != nil {
			m.Idle = mergeIdle(m.Idle, p.Idle)
		}
	}
	for i := range m.Steps {
		m.Steps[i].Latency = summarise(m.Steps[i].Hist)
	}
	_, m.Lost, m.Extra = x.losses()
	m.IDs = nil
	if m.Idle != nil && m.Idle.Conns > 0 {
		m.Idle.KiBPerConn = (m.Idle.RSSMiB - m.Idle.BaseRSSMiB) * 1024 / float64(m.Idle.Conns)
	}
	return &m
}

func mergeSteps(into, add []stepResult) []stepResult {
	for i, s := range add {
		if i >= len(into) {
			c := s
			c.Hist = map[int]uint64{}
			mergeSparse(c.Hist, s.Hist)
			into = append(into, c)
			continue
		}
		d := &into[i]
		framesA, framesB := d.FramesPerSec*d.Seconds, s.FramesPerSec*s.Seconds
		d.Sent += s.Sent
		d.Acked += s.Acked
		d.Delivered += s.Delivered
		d.DeliveredPerSec += s.DeliveredPerSec
		d.FramesPerSec += s.FramesPerSec
		if ev := d.EventsPerFrame*framesA + s.EventsPerFrame*framesB; framesA+framesB > 0 {
			d.EventsPerFrame = ev / (framesA + framesB)
		}
		d.Errors += s.Errors
		d.Overflow += s.Overflow
		d.Rate = max(d.Rate, s.Rate)
		if s.Server.CPUPercent > d.Server.CPUPercent {
			d.Server = s.Server
		}
		if s.Completion != nil && (d.Completion == nil || s.Completion.P99 > d.Completion.P99) {
			d.Completion = s.Completion
		}
		mergeSparse(d.Hist, s.Hist)
	}
	return into
}

func mergeIdle(into, add *idleResult) *idleResult {
	if into == nil {
		c := *add
		return &c
	}
	into.Conns += add.Conns
	into.ConnectSecs = max(into.ConnectSecs, add.ConnectSecs)
	into.BaseRSSMiB = min(into.BaseRSSMiB, add.BaseRSSMiB)
	into.RSSMiB = max(into.RSSMiB, add.RSSMiB)
	return into
}
