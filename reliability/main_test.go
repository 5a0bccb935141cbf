package reliability

import (
	"fmt"
	"os"
	"testing"

	"go.uber.org/goleak"

	"github.com/switchyard/switchyard/internal/serveproc"
)

func TestMain(m *testing.M) {
	code := m.Run()
	switchyardBinary.Remove()
	if code == 0 {
		if err := goleak.Find(); err != nil {
			fmt.Fprintf(os.Stderr, "goleak: %v\n", err)
			code = 1
		}
	}
	os.Exit(code)
}

// switchyardBinary builds the switchyard binary once per test binary;
// TestMain removes it. It is package state because TestMain and the tests
// that use it have nothing else in common.
var switchyardBinary = &serveproc.Build{}
