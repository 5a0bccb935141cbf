package main

import (
	"github.com/switchyard/switchyard/internal/serveproc"
)

// startSwitchyard runs bin as `switchyard serve` against consulAddr on two
// free loopback ports, writing its logs, at info level as text, to logPath.
// The child gets its own process group, so a Ctrl-C in the terminal reaches
// only the demo, which then stops it in order; Pdeathsig kills it should the
// demo die first.
func startSwitchyard(bin, consulAddr, logPath string) (*serveproc.Proc, error) {
	return serveproc.Start(serveproc.Options{
		Binary:     bin,
		ConsulAddr: consulAddr,
		LogPath:    logPath,
		ExtraArgs:  []string{"--log-level", "info", "--log-format", "text"},
	})
}
