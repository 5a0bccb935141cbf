//go:build linux

package serveproc

import (
	"errors"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/switchyard/switchyard/internal/consulagent"
)

// readyTimeout bounds the wait for /readyz in the test.
const readyTimeout = 30 * time.Second

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// TestStartReadyStop starts a real Switchyard against a real Consul, waits
// until it is ready and stops it: SIGTERM must be enough, and no process
// of its group may be left.
func TestStartReadyStop(t *testing.T) {
	bin := buildSwitchyard(t)
	agent := consulagent.StartT(t)
	p, err := Start(Options{
		Binary:     bin,
		ConsulAddr: agent.HTTPAddr,
		LogPath:    filepath.Join(t.TempDir(), "switchyard.log"),
		ExtraArgs:  []string{"--log-level", "warn"},
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := p.WaitReady(t.Context(), readyTimeout); err != nil {
		t.Errorf("wait ready: %v", err)
	}
	if err := p.Stop(); err != nil {
		t.Fatalf("stop: %v", err)
	}
	if st := p.ProcessState(); st == nil || !st.Exited() || st.ExitCode() != 0 {
		t.Errorf("process state after Stop = %v, want a clean exit", st)
	}
	if err := syscall.Kill(-p.PID(), 0); !errors.Is(err, syscall.ESRCH) {
		t.Errorf("signal 0 to process group %d after Stop: %v, want ESRCH", p.PID(), err)
	}
}

// buildSwitchyard builds cmd/switchyard into a temporary directory
// removed when the test ends, and returns the binary's path.
func buildSwitchyard(t *testing.T) string {
	t.Helper()
	b := &Build{}
	t.Cleanup(b.Remove)
	return b.MustPath(t)
}
