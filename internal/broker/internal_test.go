package broker

import (
	"bytes"
	"log/slog"
	"net"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
)

func TestAdvertised(t *testing.T) {
	tests := []struct {
		name  string
		adv   string
		bound *net.TCPAddr
		want  string
	}{
		{"loopback kept", "", tcp(net.IPv4(127, 0, 0, 1)), "127.0.0.1:9092"},
		{"unspecified becomes loopback", "", tcp(net.IPv4zero), "127.0.0.1:9092"},
		{"explicit wins", "10.1.2.3:19092", tcp(net.IPv4zero), "10.1.2.3:19092"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := advertised(tt.adv, tt.bound)
			if err != nil {
				t.Fatalf("advertised: %v", err)
			}
			if got.String() != tt.want {
				t.Errorf("advertised = %s, want %s", got, tt.want)
			}
		})
	}
}

func tcp(ip net.IP) *net.TCPAddr { return &net.TCPAddr{IP: ip, Port: 9092} }

func TestLoggerLevels(t *testing.T) {
	var buf bytes.Buffer
	l := logger{slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug}))}

	l.Logf(kfake.LogLevelInfo, "request %d", 7)
	l.Logf(kfake.LogLevelWarn, "persist batch %s", "t-0")
	l.Logf(kfake.LogLevelError, "persist to disk: %v", "boom")

	lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
	want := []string{
		`level=DEBUG msg=kfake detail="request 7"`,
		`level=WARN msg=kfake detail="persist batch t-0"`,
		`level=ERROR msg=kfake detail="persist to disk: boom"`,
	}
	if len(lines) != len(want) {
		t.Fatalf("got %d lines, want %d:\n%s", len(lines), len(want), buf.String())
	}
	for i, w := range want {
		if !strings.Contains(lines[i], w) {
			t.Errorf("line %d = %q, want it to contain %q", i, lines[i], w)
		}
	}
}

// TestCleanerTimerNeverFires checks the log.cleaner.backoff.ms the broker
// gives kfake, which would otherwise apply retention every hour and could
// empty a partition.
func TestCleanerTimerNeverFires(t *testing.T) {
	b, err := Start(t.Context(), Config{Listen: "127.0.0.1:0"})
	if err != nil {
		t.Fatalf("start broker: %v", err)
	}
	defer b.Close()
	cl, err := kgo.NewClient(kgo.SeedBrokers(b.Addr()))
	if err != nil {
		t.Fatalf("new client: %v", err)
	}
	defer cl.Close()

	rcs, err := kadm.NewClient(cl).DescribeBrokerConfigs(t.Context())
	if err != nil {
		t.Fatalf("describe broker configs: %v", err)
	}
	c, err := rcs.On("", nil)
	if err != nil {
		t.Fatalf("broker configs: %v", err)
	}
	for _, cfg := range c.Configs {
		if cfg.Key != "log.cleaner.backoff.ms" {
			continue
		}
		ms, err := strconv.ParseInt(cfg.MaybeValue(), 10, 64)
		if err != nil {
			t.Fatalf("log.cleaner.backoff.ms = %q: %v", cfg.MaybeValue(), err)
		}
		// kfake multiplies it into a time.Duration.
		if d := time.Duration(ms) * time.Millisecond; d < 5*365*24*time.Hour {
			t.Fatalf("log.cleaner.backoff.ms = %d ms, %v as kfake reads it; want years", ms, d)
		}
		return
	}
	t.Fatalf("log.cleaner.backoff.ms not among the broker configs %v", c.Configs)
}
