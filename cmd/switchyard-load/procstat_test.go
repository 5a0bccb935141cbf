package main

import (
	"os"
	"strings"
	"testing"
)

func TestParseStatCPU(t *testing.T) {
	// utime 250 and stime 50 ticks; the command name holds ") (".
	stat := "1234 (odd) (name) S 1 1234 1234 0 -1 4194560 100 0 0 0 250 50 0 0 20 0 8 0 100 1000 50"
	got, err := parseStatCPU(stat)
	if err != nil || got != 3 {
		t.Errorf("parseStatCPU = %v, %v; want 3 s", got, err)
	}
	if _, err := parseStatCPU("1234 (short) S 1"); err == nil {
		t.Error("short stat: want an error")
	}
}

func TestOwnProcessIsMeasured(t *testing.T) {
	if cpu, err := cpuSeconds(os.Getpid()); err != nil || cpu < 0 {
		t.Errorf("cpuSeconds = %v, %v", cpu, err)
	}
	if rss, err := rssBytes(os.Getpid()); err != nil || rss <= 0 {
		t.Errorf("rssBytes = %v, %v", rss, err)
	}
}

func TestFindSample(t *testing.T) {
	text := "# HELP switchyard_consul_connections x\n# TYPE switchyard_consul_connections gauge\n" +
		"switchyard_consul_connections_peak 9\nswitchyard_consul_connections 7\n"
	if v, err := findSample(strings.NewReader(text), "switchyard_consul_connections"); err != nil || v != 7 {
		t.Errorf("findSample = %v, %v; want 7", v, err)
	}
	if _, err := findSample(strings.NewReader("other 1\n"), "switchyard_consul_connections"); err == nil {
		t.Error("missing sample: want an error")
	}
}
