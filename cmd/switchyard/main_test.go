package main

import (
	"os"
	"testing"

	"go.uber.org/goleak"
)

// TestMain checks that no test leaves a goroutine behind: every stage of
// Switchyard, every xDS client and every backend must stop when told. It
// then removes the switchyard binary the child-process tests built.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m, goleak.Cleanup(func(code int) {
		switchyardBinary.remove()
		os.Exit(code)
	}))
}
