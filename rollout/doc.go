// Package rollout holds progressive weighted rollouts: the spec an operator
// asks for, the state and history stored in Consul KV under
// switchyard/rollouts/<service>, the pure transitions between phases, and
// the service-splitter entry that carries a step's weights.
//
// It imports only the Consul API and the standard library, so the CLI and
// the future controller inside `switchyard serve` share it without pulling
// in the xDS side.
package rollout
