package main

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// update rewrites the golden files under testdata/ instead of comparing:
// go test ./cmd/switchyard -run Golden -update.
var update = flag.Bool("update", false, "rewrite the golden files under testdata/")

// statusNow is the clock of the golden status files.
var statusNow = time.Date(2026, 1, 2, 15, 0, 0, 0, time.UTC)

// readFixture decodes testdata/status/<name>.
func readFixture(t *testing.T, name string, out any) {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("testdata", "status", name))
	if err != nil {
		t.Fatal(err)
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(out); err != nil {
		t.Fatalf("decode %s: %v", name, err)
	}
}

// checkGolden compares got with testdata/status/<name>, or rewrites it
// with -update.
func checkGolden(t *testing.T, name string, got []byte) {
	t.Helper()
	checkGoldenFile(t, filepath.Join("testdata", "status", name), got)
}

// checkGoldenFile compares got with the file at path, or rewrites it with
// -update.
func checkGoldenFile(t *testing.T, path string, got []byte) {
	t.Helper()
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run with -update to write it)", err)
	}
	if diff := cmp.Diff(string(want), string(got)); diff != "" {
		t.Errorf("%s differs (-want +got; -update rewrites it):\n%s", path, diff)
	}
}

// TestStatusGolden renders a fixed report of two replicas (a gRPC client
// and Envoys, every state, rejections with multi-line error text; fleets
// with a rejected profile, none in force, and one the replicas disagree
// on; certificates valid, expired and bad) and one proxy's detail, as
// tables and as JSON, and the fleets of a replica with no proxy.
func TestStatusGolden(t *testing.T) {
	var report statusReport
	readFixture(t, "report.json", &report)
	var detail proxyReport
	readFixture(t, "detail.json", &detail)
	tests := []struct {
		golden string
		render func(*bytes.Buffer) error
	}{
		{"table.golden", func(b *bytes.Buffer) error { return renderTable(b, report, statusNow) }},
		{"table_json.golden", func(b *bytes.Buffer) error { return renderJSON(b, report) }},
		{"detail.golden", func(b *bytes.Buffer) error { return renderDetail(b, detail, statusNow) }},
		{"detail_json.golden", func(b *bytes.Buffer) error { return renderJSON(b, detail) }},
		{"empty.golden", func(b *bytes.Buffer) error {
			return renderTable(b, statusReport{Replicas: []string{"127.0.0.1:18080"}}, statusNow)
		}},
		{"fleets_only.golden", func(b *bytes.Buffer) error {
			return renderTable(b, statusReport{Replicas: []string{"127.0.0.1:18080"}, Fleets: report.Fleets[:1]}, statusNow)
		}},
	}
	for _, tt := range tests {
		t.Run(tt.golden, func(t *testing.T) {
			var b bytes.Buffer
			if err := tt.render(&b); err != nil {
				t.Fatal(err)
			}
			checkGolden(t, tt.golden, b.Bytes())
		})
	}
}

func TestHumanDuration(t *testing.T) {
	tests := []struct {
		d    time.Duration
		want string
	}{
		{-time.Second, "0s"},
		{1500 * time.Millisecond, "1s"},
		{59 * time.Second, "59s"},
		{time.Minute, "1m"},
		{5*time.Minute + 30*time.Second, "5m30s"},
		{47*time.Minute + 30*time.Second, "47m"},
		{3*time.Hour + 5*time.Minute, "3h5m"},
		{3 * time.Hour, "3h"},
		{27 * time.Hour, "1d3h"},
		{48 * time.Hour, "2d"},
	}
	for _, tt := range tests {
		if got := humanDuration(tt.d); got != tt.want {
			t.Errorf("humanDuration(%s) = %q, want %q", tt.d, got, tt.want)
		}
	}
}
