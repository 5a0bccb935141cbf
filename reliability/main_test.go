package reliability

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"
)

// buildTimeout bounds building the switchyard binary.
const buildTimeout = 3 * time.Minute

func TestMain(m *testing.M) {
	code := m.Run()
	switchyardBinary.remove()
	if code == 0 {
		if err := goleak.Find(); err != nil {
			fmt.Fprintf(os.Stderr, "goleak: %v\n", err)
			code = 1
		}
	}
	os.Exit(code)
}

// builtBinary builds the switchyard binary at most once per test binary,
// as cmd/switchyard's tests do, into a directory TestMain removes.
type builtBinary struct {
	mu    sync.Mutex
	dir   string
	path  string
	err   error
	tried bool
}

// switchyardBinary is the one builtBinary of this test binary: it is
// package state because TestMain, which removes it, and the tests that use
// it have nothing else in common.
var switchyardBinary = &builtBinary{}

// get returns the binary's path, building it on the first call; a failed
// build fails every test that asks.
func (b *builtBinary) get(t *testing.T) string {
	t.Helper()
	b.mu.Lock()
	defer b.mu.Unlock()
	if !b.tried {
		b.tried = true
		start := time.Now()
		b.path, b.err = b.build()
		t.Logf("built the switchyard binary in %s", time.Since(start).Round(time.Millisecond))
	}
	if b.err != nil {
		t.Fatal(b.err)
	}
	return b.path
}

// build runs go build of cmd/switchyard into a new temporary directory.
func (b *builtBinary) build() (string, error) {
	dir, err := os.MkdirTemp("", "switchyard-reliability-bin-")
	if err != nil {
		return "", fmt.Errorf("build switchyard: %w", err)
	}
	b.dir = dir
	ctx, cancel := context.WithTimeout(context.Background(), buildTimeout)
	defer cancel()
	bin := filepath.Join(dir, "switchyard")
	cmd := exec.CommandContext(ctx, "go", "build", "-o", bin, "github.com/switchyard/switchyard/cmd/switchyard")
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("go build: %w\n%s", err, out)
	}
	return bin, nil
}

// remove deletes the binary's directory, if it was built.
func (b *builtBinary) remove() {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.dir != "" {
		_ = os.RemoveAll(b.dir)
	}
}
