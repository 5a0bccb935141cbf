// Package layering holds the test that enforces Switchyard's import
// direction: discovery → snapshot → xds, with envoy and rollout as
// leaves (rollout imports only the Consul API, the Prometheus client and the
// standard library).
package layering
