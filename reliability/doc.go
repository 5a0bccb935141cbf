// Package reliability is Switchyard's fault-injection end-to-end suite. It
// holds tests only (this file exists so that the package has a name and a
// place for this description); `make test` runs it with every other
// package.
//
// Each test runs the real pieces on loopback: a Consul dev agent
// (internal/consulagent), `switchyard serve` as a child process
// (internal/serveproc) whose --consul-addr points at an in-process TCP
// fault proxy (internal/faultproxy) in front of Consul, gRPC echo backends
// registered in Consul (internal/echo), proxyless gRPC-Go clients dialing
// xds:///echo under steady load (internal/grpcxds), and a simulated Envoy
// (internal/simenvoy). The test changes Consul through a client of its
// own that bypasses the proxy, so that it can change the registry while
// Switchyard cannot see it.
//
// The tests are named after the rows of FAILURE_MODES.md they cover
// (TestFailureMode01…) and each asserts, for its fault: no failed RPC while
// the data plane had what it needed, no endpoint removed that Consul did
// not remove, convergence once the fault clears (logged with the time it
// took), and the Switchyard process's goroutines and resident memory back
// within a bound of their baseline. RELIABILITY.md at the repository root
// maps every row to its tests and records the figures of the last run.
//
// The suite waits out real outages (60 s, 30 s, 30 s, 20 s and 15 s) and
// registers a 1,200-instance service once, about five minutes in all; `go test -short` skips it.
package reliability
