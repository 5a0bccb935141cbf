//go:build unix

package snapshot

import (
	"syscall"
	"time"
)

// processCPU returns the CPU time (user and system) the process used so far.
// Benchmarks report it beside wall time: on a machine shared with other
// work, CPU per operation is the steadier figure.
func processCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
