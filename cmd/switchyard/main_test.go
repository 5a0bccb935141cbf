package main

import (
	"testing"

	"go.uber.org/goleak"
)

// TestMain checks that no test leaves a goroutine behind: every stage of
// Switchyard, every xDS client and every backend must stop when told.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}
