// Package serveproc runs `switchyard serve` as a child process on free
// loopback ports, for the demo, the load tool and tests: it starts the
// binary, waits for /readyz and stops it with SIGTERM, then SIGKILL.
//
// The code is Linux only, because it relies on Pdeathsig to make sure the
// child never outlives the process that started it.
package serveproc
