//go:build linux

package serveproc

import (
	"context"
	"errors"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/switchyard/switchyard/internal/consulagent"
)

const (
	// buildTimeout bounds building the switchyard binary.
	buildTimeout = 3 * time.Minute
	// readyTimeout bounds the wait for /readyz in the test.
	readyTimeout = 30 * time.Second
)

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

// buildSwitchyard builds ./cmd/switchyard into a temporary directory and
// returns the binary's path.
func buildSwitchyard(t *testing.T) string {
	t.Helper()
	goBin, err := exec.LookPath("go")
	if err != nil {
		t.Skipf("no go command to build switchyard with: %v", err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), buildTimeout)
	defer cancel()
	bin := filepath.Join(t.TempDir(), "switchyard")
	cmd := exec.CommandContext(ctx, goBin, "build", "-o", bin, "github.com/switchyard/switchyard/cmd/switchyard")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("build switchyard: %v\n%s", err, out)
	}
	return bin
}
