// Package xds serves Switchyard's snapshots to Envoy proxies and proxyless
// gRPC clients over the xDS protocol. It groups clients, logs and counts every
// rejected response, and never reads Consul: snapshots reach it through
// Publish.
package xds

import (
	"strings"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
)

// Kind is the kind of xDS client, which decides what resources it is served.
type Kind int

// The client kinds.
const (
	KindEnvoy Kind = iota + 1
	KindGRPC
)

// String returns the kind's name as it appears in group keys, logs and
// metrics.
func (k Kind) String() string {
	switch k {
	case KindEnvoy:
		return "envoy"
	case KindGRPC:
		return "grpc"
	default:
		return "unknown"
	}
}

// Group is a set of clients that share one snapshot: the same kind of client
// with the same node.cluster. Snapshots are kept per group, never per proxy,
// so memory grows with groups rather than with the fleet.
type Group struct {
	Kind    Kind
	Cluster string
}

// String returns the group key, "<kind>/<cluster>".
func (g Group) String() string {
	return g.Kind.String() + "/" + g.Cluster
}

// GroupOf returns the group of a node. gRPC libraries name themselves in
// user_agent_name ("gRPC Go", "gRPC Java", "grpc-c++"); everything else is
// served as an Envoy.
func GroupOf(node *corev3.Node) Group {
	kind := KindEnvoy
	if strings.HasPrefix(strings.ToLower(node.GetUserAgentName()), "grpc") {
		kind = KindGRPC
	}
	return Group{Kind: kind, Cluster: node.GetCluster()}
}
