package main

import (
	"bytes"
	"context"
	"path/filepath"
	"testing"
)

// TestFleetValidateGolden runs `switchyard fleet validate` on the example
// profiles and on invalid ones, and compares its output and exit code
// with the golden files under testdata/fleet (-update rewrites them).
func TestFleetValidateGolden(t *testing.T) {
	tests := []struct {
		name   string
		args   []string
		code   int
		golden string // of stdout then stderr when the code is 0, else of stderr
	}{
		{"edge", []string{"../../examples/fleets/edge.json"}, 0, "edge.golden"},
		{"internal", []string{"../../examples/fleets/internal.json"}, 0, "internal.golden"},
		{"warnings", []string{"--service", "shop-web,payments", "../../examples/fleets/edge.json"}, 0, "warnings.golden"},
		{"invalid", []string{"testdata/fleet/invalid.json"}, 1, "invalid.golden"},
		{"unknown field", []string{"testdata/fleet/unknown_field.yaml"}, 1, "unknown_field.golden"},
		{"missing file", []string{"testdata/fleet/nothing.json"}, 1, "missing.golden"},
		{"no file", nil, 2, "usage.golden"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			args := append([]string{"fleet", "validate"}, tt.args...)
			code := execute(context.Background(), args, &stdout, &stderr)
			if code != tt.code {
				t.Errorf("exit %d, want %d (stderr %q)", code, tt.code, stderr.String())
			}
			got := stderr.Bytes()
			if tt.code == 0 {
				got = append(stdout.Bytes(), stderr.Bytes()...)
			}
			checkGoldenFile(t, filepath.Join("testdata", "fleet", tt.golden), got)
		})
	}
}
