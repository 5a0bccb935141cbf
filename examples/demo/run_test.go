package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
)

func TestCleanupsRun(t *testing.T) {
	for _, tc := range []struct {
		name    string
		fail    map[string]bool
		wantErr []string // substrings of the error; none means nil
		wantOut string
	}{
		{"all stop", nil, nil, "everything the demo started is stopped"},
		{"switchyard killed", map[string]bool{"switchyard": true}, []string{"cleanup: stop switchyard: switchyard failed"}, "1 step(s) failed"},
		{"two fail", map[string]bool{"switchyard": true, "consul": true}, []string{"stop switchyard", "stop consul"}, "2 step(s) failed"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var cl cleanups
			var order []string
			for _, name := range []string{"consul", "echo-1", "switchyard"} {
				cl.add(name, func() error {
					order = append(order, name)
					if tc.fail[name] {
						return fmt.Errorf("%s failed", name)
					}
					return nil
				})
			}
			var out bytes.Buffer
			err := cl.run(&out)
			if got := strings.Join(order, ","); got != "switchyard,echo-1,consul" {
				t.Errorf("steps ran as %s, want every step, newest first", got)
			}
			if !strings.Contains(out.String(), tc.wantOut) {
				t.Errorf("output %q lacks %q", out.String(), tc.wantOut)
			}
			if len(tc.wantErr) == 0 && err != nil {
				t.Errorf("run = %v, want nil", err)
			}
			if len(tc.wantErr) > 0 && !errors.As(err, new(cleanupError)) {
				t.Errorf("run = %v, want a cleanupError", err)
			}
			for _, want := range tc.wantErr {
				if err == nil || !strings.Contains(err.Error(), want) {
					t.Errorf("run = %v, want it to contain %q", err, want)
				}
			}
			if err := cl.run(&out); err != nil {
				t.Errorf("second run = %v, want nil", err)
			}
		})
	}
}

func TestExitStatus(t *testing.T) {
	cleanupErr := cleanupError{errors.New("stop switchyard: switchyard ignored SIGTERM for 5s and was killed")}
	for _, tc := range []struct {
		name        string
		interrupted bool
		err         error
		want        int
		wantMsg     string
	}{
		{"success", false, nil, 0, ""},
		{"cleanup failed after a good run", false, errors.Join(nil, cleanupErr), 1, "demo: cleanup: stop switchyard"},
		{"demo and cleanup failed", false, errors.Join(errors.New("baseline: boom"), cleanupErr), 1, "was killed"},
		{"demo failed", false, errors.New("baseline: boom"), 1, "demo: baseline: boom"},
		{"usage", false, usageError{errors.New("bad flag")}, 1, "run `demo --help`"},
		{"interrupted", true, context.Canceled, exitInterrupted, "interrupted, everything stopped"},
		{"interrupted, cleanup failed", true, errors.Join(context.Canceled, cleanupErr), exitInterrupted, "interrupted; cleanup: stop switchyard"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var stderr bytes.Buffer
			if got := exitStatus(tc.interrupted, tc.err, &stderr); got != tc.want {
				t.Errorf("exitStatus = %d, want %d", got, tc.want)
			}
			if !strings.Contains(stderr.String(), tc.wantMsg) || (tc.wantMsg == "") != (stderr.Len() == 0) {
				t.Errorf("stderr = %q, want %q", stderr.String(), tc.wantMsg)
			}
		})
	}
}
