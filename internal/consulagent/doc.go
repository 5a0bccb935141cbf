// Package consulagent starts real Consul dev agents bound to loopback for
// tests, end-to-end runs and demos. Switchyard never mocks Consul: every test
// that needs one runs the real binary built by `make consul`.
//
// The agent code is Linux only, because it relies on Pdeathsig to make sure an
// agent never outlives the process that started it.
package consulagent
