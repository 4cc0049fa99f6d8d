package broker

import (
	"bytes"
	"log/slog"
	"net"
	"strings"
	"testing"

	"github.com/twmb/franz-go/pkg/kfake"
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
