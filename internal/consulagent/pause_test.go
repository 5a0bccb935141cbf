//go:build linux

package consulagent

import (
	"net/http"
	"testing"
	"time"
)

// TestPauseHoldsAnswersUntilResume checks that a paused agent accepts
// connections but answers nothing, and answers again once resumed.
func TestPauseHoldsAnswersUntilResume(t *testing.T) {
	a := StartT(t)
	tr := &http.Transport{DisableKeepAlives: true}
	defer tr.CloseIdleConnections()
	hc := &http.Client{Transport: tr, Timeout: 500 * time.Millisecond}
	if err := a.Pause(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = a.Resume() })
	if leader, err := a.leader(t.Context(), hc); err == nil {
		t.Fatalf("leader while paused = %q, want a timeout", leader)
	}
	if err := a.Resume(); err != nil {
		t.Fatal(err)
	}
	hc.Timeout = 5 * time.Second
	if leader, err := a.leader(t.Context(), hc); err != nil || leader == "" {
		t.Fatalf("leader after resume = %q, %v", leader, err)
	}
}
