package main

import (
	"time"

	"github.com/switchyard/switchyard/internal/serveproc"
)

// rolloutTick is how often the rollout controller of the demo's Switchyard
// looks at its rollouts: a quarter of the default, so that a step and an
// abort show in traffic without a second's wait for the next tick.
const rolloutTick = 250 * time.Millisecond

// startSwitchyard runs bin as `switchyard serve` against consulAddr on two
// free loopback ports, writing its logs, at info level as text, to logPath,
// with the rollout controller ticking every rolloutTick.
// The child gets its own process group, so a Ctrl-C in the terminal reaches
// only the demo, which then stops it in order; Pdeathsig kills it should the
// demo die first.
func startSwitchyard(bin, consulAddr, logPath string) (*serveproc.Proc, error) {
	return serveproc.Start(serveproc.Options{
		Binary:     bin,
		ConsulAddr: consulAddr,
		LogPath:    logPath,
		ExtraArgs:  []string{"--log-level", "info", "--log-format", "text", "--rollout-tick", rolloutTick.String()},
	})
}
