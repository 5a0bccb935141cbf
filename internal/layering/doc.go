// Package layering holds the test that enforces Switchyard's import
// direction: discovery → snapshot → xds, with envoy as a leaf.
package layering
