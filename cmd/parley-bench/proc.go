package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"
)

// clockTicks is the kernel's USER_HZ, in which /proc/<pid>/stat counts CPU
// time. It is 100 on every Linux the tool runs on.
const clockTicks = 100

// procSample is one look at a process.
type procSample struct {
	at     time.Time
	cpu    float64 // seconds of user and system time so far
	rssKiB int64
}

func readProc(pid int) (procSample, error) {
	s := procSample{at: time.Now()}
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return s, fmt.Errorf("read stat: %w", err)
	}
	// The command name may hold spaces; the fields start after its ')'.
	i := bytes.LastIndexByte(stat, ')')
	if i < 0 {
		return s, fmt.Errorf("read stat: no command name")
	}
	f := strings.Fields(string(stat[i+1:]))
	if len(f) < 13 {
		return s, fmt.Errorf("read stat: %d fields", len(f))
	}
	utime, _ := strconv.ParseFloat(f[11], 64)
	stime, _ := strconv.ParseFloat(f[12], 64)
	s.cpu = (utime + stime) / clockTicks

	status, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return s, fmt.Errorf("read status: %w", err)
	}
	for _, line := range strings.Split(string(status), "\n") {
		if rest, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			kib := strings.Fields(rest)
			if len(kib) > 0 {
				s.rssKiB, _ = strconv.ParseInt(kib[0], 10, 64)
			}
		}
	}
	return s, nil
}

// watcher samples a server process every interval while a run goes on.
// A zero pid watches nothing.
type watcher struct {
	pid int

	// mu guards the fields below.
	mu      sync.Mutex
	first   procSample
	last    procSample
	peakRSS int64
	errs    int
}

func (w *watcher) run(ctx context.Context, every time.Duration) {
	if w.pid == 0 {
		return
	}
	w.sample()
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			w.sample()
		}
	}
}

func (w *watcher) sample() procSample {
	if w.pid == 0 {
		return procSample{at: time.Now()}
	}
	s, err := readProc(w.pid)
	w.mu.Lock()
	defer w.mu.Unlock()
	if err != nil {
		w.errs++
		return w.last
	}
	if w.first.at.IsZero() {
		w.first = s
	}
	w.last = s
	if s.rssKiB > w.peakRSS {
		w.peakRSS = s.rssKiB
	}
	return s
}

// serverUse is what the server used over a window of a run.
type serverUse struct {
	CPUPercent float64 `json:"cpu_percent"` // of one core
	RSSMiB     float64 `json:"rss_mib"`     // at the window's end
	PeakRSSMiB float64 `json:"peak_rss_mib"`
}

// between returns the use from a to b, with the peak seen since the
// watcher started.
func (w *watcher) between(a, b procSample) serverUse {
	w.mu.Lock()
	peak := w.peakRSS
	w.mu.Unlock()
	u := serverUse{RSSMiB: float64(b.rssKiB) / 1024, PeakRSSMiB: float64(peak) / 1024}
	if secs := b.at.Sub(a.at).Seconds(); secs > 0 {
		u.CPUPercent = 100 * (b.cpu - a.cpu) / secs
	}
	return u
}

// loadAvg returns the first three fields of /proc/loadavg.
func loadAvg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return ""
	}
	f := strings.Fields(string(b))
	return strings.Join(f[:min(3, len(f))], " ")
}
