// Package rollout holds progressive weighted rollouts: the spec an operator
// asks for, the state and history stored in Consul KV under
// switchyard/rollouts/<service>, the pure transitions between phases, and
// the service-splitter entry that carries a step's weights, and the
// Controller that `switchyard serve` runs to apply the steps: one replica
// at a time, elected by a Consul lock, judges each running rollout on
// every tick with the pure Decide.
//
// It imports only the Consul API, the Prometheus client and the standard
// library, so the CLI and the controller share it without pulling in the
// xDS side.
package rollout
