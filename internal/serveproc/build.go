//go:build linux

package serveproc

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
	"time"
)

// buildTimeout bounds building the switchyard binary.
const buildTimeout = 3 * time.Minute

// switchyardPackage is what Build compiles.
const switchyardPackage = "github.com/switchyard/switchyard/cmd/switchyard"

// Build builds the switchyard binary at most once, for the tests that run
// `switchyard serve` as a child process, into a temporary directory that
// its Remove method deletes (a test binary's TestMain calls it at the end).
type Build struct {
	mu    sync.Mutex
	dir   string
	path  string
	err   error
	tried bool
}

// Path returns the binary's path, building it on the first call; a failed
// build fails every call. logf, when set, is told how long the build took.
func (b *Build) Path(logf func(format string, args ...any)) (string, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if !b.tried {
		b.tried = true
		start := time.Now()
		b.path, b.err = b.build()
		if logf != nil {
			logf("built the switchyard binary in %s", time.Since(start).Round(time.Millisecond))
		}
	}
	return b.path, b.err
}

// MustPath is Path for a test: the build's time goes to its log, and a
// failed build fails it.
func (b *Build) MustPath(t testing.TB) string {
	t.Helper()
	path, err := b.Path(t.Logf)
	if err != nil {
		t.Fatal(err)
	}
	return path
}

// build runs go build of cmd/switchyard into a new temporary directory.
func (b *Build) build() (string, error) {
	dir, err := os.MkdirTemp("", "switchyard-test-bin-")
	if err != nil {
		return "", fmt.Errorf("build switchyard: %w", err)
	}
	b.dir = dir
	ctx, cancel := context.WithTimeout(context.Background(), buildTimeout)
	defer cancel()
	bin := filepath.Join(dir, "switchyard")
	if out, err := exec.CommandContext(ctx, "go", "build", "-o", bin, switchyardPackage).CombinedOutput(); err != nil {
		return "", fmt.Errorf("go build %s: %w\n%s", switchyardPackage, err, out)
	}
	return bin, nil
}

// Remove deletes the binary's directory, if it was built.
func (b *Build) Remove() {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.dir != "" {
		_ = os.RemoveAll(b.dir)
	}
}
