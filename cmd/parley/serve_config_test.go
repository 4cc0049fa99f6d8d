package main

import (
	"flag"
	"io"
	"strings"
	"testing"

	"github.com/parley-chat/parley/internal/broker"
)

// parseServe parses serve's flags as runServe does, without running.
func parseServe(t *testing.T, args ...string) (serveConfig, error) {
	t.Helper()
	var cfg serveConfig
	fs := newFlagSet("serve", "serve [flags]", io.Discard)
	cfg.flags(fs)
	if err := parseFlags(fs, args); err != nil {
		return cfg, err
	}
	if err := noArgs(fs); err != nil {
		return cfg, err
	}
	return cfg, cfg.check()
}

func TestFsyncFlag(t *testing.T) {
	for _, tc := range []struct {
		name string
		args []string
		env  string
		want broker.FsyncMode
	}{
		{"off by default", nil, "", broker.FsyncOff},
		{"sends", []string{"--fsync=sends"}, "", broker.FsyncSends},
		{"mode after a space", []string{"--fsync", "sends"}, "", broker.FsyncSends},
		{"all", []string{"--fsync", "all"}, "", broker.FsyncAll},
		{"off", []string{"--fsync=off"}, "", broker.FsyncOff},
		{"true means all", []string{"--fsync=true"}, "", broker.FsyncAll},
		{"from the environment", nil, "sends", broker.FsyncSends},
		{"flag wins over the environment", []string{"--fsync=off"}, "all", broker.FsyncOff},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.env != "" {
				t.Setenv("PARLEY_FSYNC", tc.env)
			}
			cfg, err := parseServe(t, tc.args...)
			if err != nil {
				t.Fatalf("parse %v: %v", tc.args, err)
			}
			if got := cfg.Fsync.String(); got != string(tc.want) {
				t.Errorf("mode = %s, want %s", got, tc.want)
			}
		})
	}
}

func TestFsyncFlagRefusals(t *testing.T) {
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"unknown mode", []string{"--fsync=sometimes"},
			`invalid value "sometimes" for flag -fsync: want off, sends or all`},
		{"no mode", []string{"--fsync"}, "flag needs an argument: -fsync"},
		{"with an external cluster", []string{"--fsync=sends", "--kafka", "k:9092",
			"--api-key", "k", "--jwt-secret", "s"}, "--fsync is for the embedded broker"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := parseServe(t, tc.args...)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("parse %v: error %v, want one containing %q", tc.args, err, tc.want)
			}
		})
	}
}

// The embedded broker listens without TLS and asks for no password, so the
// flags for a cluster's TLS and SASL are refused without --kafka.
func TestEmbeddedBrokerRefusesClusterFlags(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--kafka-tls"}, "--kafka-tls needs --kafka"},
		{[]string{"--kafka-sasl", "PLAIN"}, "--kafka-sasl needs --kafka"},
	} {
		_, err := parseServe(t, tc.args...)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("parse %v: error %v, want one containing %q", tc.args, err, tc.want)
		}
	}
}

var _ flag.Value = (*fsyncFlag)(nil)
