// Package envoy builds Envoy xDS resources from plain Go values.
//
// Every function here is small and pure: it takes plain values and returns one
// go-control-plane proto, does no I/O and keeps the order it is given, so the
// caller decides names and sorting. The output of every builder passes the
// proto's ValidateAll. The package is a leaf: it imports nothing of
// Switchyard's own.
//
// Resources are built so that both Envoy and proxyless gRPC clients accept
// them: RDS and EDS always come over ADS, every locality has a locality and a
// positive weight, and the router is always the last HTTP filter.
package envoy
