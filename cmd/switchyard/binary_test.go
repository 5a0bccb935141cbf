package main

import "github.com/switchyard/switchyard/internal/serveproc"

// switchyardBinary builds the switchyard binary once per test binary for
// the tests that run `switchyard serve` as a child process; TestMain
// removes it. It is package state because TestMain and those tests have
// nothing else in common.
var switchyardBinary = &serveproc.Build{}
