package main

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

// buildTimeout bounds building the switchyard binary for the tests that
// run it as a child process.
const buildTimeout = 3 * time.Minute

// builtBinary builds the switchyard binary at most once per test binary,
// for the tests that run `switchyard serve` as a child process, into a
// directory that TestMain removes at the end.
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

// build runs go build of this package into a new temporary directory.
func (b *builtBinary) build() (string, error) {
	dir, err := os.MkdirTemp("", "switchyard-test-bin-")
	if err != nil {
		return "", fmt.Errorf("build switchyard: %w", err)
	}
	b.dir = dir
	ctx, cancel := context.WithTimeout(context.Background(), buildTimeout)
	defer cancel()
	bin := filepath.Join(dir, "switchyard")
	if out, err := exec.CommandContext(ctx, "go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
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
