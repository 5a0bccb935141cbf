package main

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"
)

// TestDropGuardFlags checks that the drop guard's flags take their ranges'
// ends and that a bad value exits 2 naming the flag.
func TestDropGuardFlags(t *testing.T) {
	tests := []struct {
		drop, confirm string
		bad           string // the flag named, "" when both are good
	}{
		{"50%", "10s", ""},
		{"0%", "0s", ""},
		{"100%", "10m", ""},
		{"12.5", "3s", ""},
		{"101%", "10s", "--max-endpoint-drop"},
		{"-1%", "10s", "--max-endpoint-drop"},
		{"half", "10s", "--max-endpoint-drop"},
		{"50%", "11m", "--drop-confirm"},
		{"50%", "-1s", "--drop-confirm"},
	}
	for _, tt := range tests {
		t.Run(tt.drop+" "+tt.confirm, func(t *testing.T) {
			cfg := defaultServeConfig()
			cfg.MaxEndpointDrop, cfg.DropConfirm = tt.drop, mustDuration(t, tt.confirm)
			err := cfg.validate()
			if tt.bad == "" {
				if err != nil {
					t.Errorf("validate: %v", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.bad) {
				t.Errorf("validate: %v, want an error naming %s", err, tt.bad)
			}
			var stdout, stderr bytes.Buffer
			code := execute(context.Background(), []string{"serve", "--max-endpoint-drop", tt.drop, "--drop-confirm", tt.confirm}, &stdout, &stderr)
			if code != 2 || !strings.Contains(stderr.String(), tt.bad) {
				t.Errorf("exit code %d, stderr %q: want 2 naming %s", code, stderr.String(), tt.bad)
			}
		})
	}
}

// mustDuration parses a duration the test table spells out.
func mustDuration(t *testing.T, s string) time.Duration {
	t.Helper()
	d, err := time.ParseDuration(s)
	if err != nil {
		t.Fatal(err)
	}
	return d
}
