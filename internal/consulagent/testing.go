//go:build linux

package consulagent

import (
	"context"
	"testing"
	"time"
)

// startTTimeout bounds StartT, which may wait for a busy machine.
const startTTimeout = 60 * time.Second

// StartT starts a dev agent for a test, stops it when the test ends and
// prints the agent's log tail when the test failed. A failed start fails the
// test at once, with the log tail in the message.
func StartT(t testing.TB) *Agent {
	t.Helper()
	return StartWithT(t, Options{})
}

// StartWithT is StartT with options, for agents that need extra
// configuration such as ACLs. A zero StartTimeout means 60 seconds here.
func StartWithT(t testing.TB, opts Options) *Agent {
	t.Helper()
	if opts.StartTimeout <= 0 {
		opts.StartTimeout = startTTimeout
	}
	ctx, cancel := context.WithTimeout(t.Context(), opts.StartTimeout)
	defer cancel()
	a, err := Start(ctx, opts)
	if err != nil {
		t.Fatalf("start consul dev agent: %v", err)
	}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("consul agent %s log tail:\n%s", a.HTTPAddr, a.LogTail())
		}
		if err := a.Stop(); err != nil {
			t.Errorf("stop consul dev agent: %v", err)
		}
	})
	return a
}
