package xds

import (
	"context"
	"crypto/x509"
	"fmt"
	"strings"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	"github.com/prometheus/client_golang/prometheus"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/peer"
	"google.golang.org/grpc/status"
)

// The node identity rule (Config.AuthzNodeIdentity). The first request of
// every xDS or load reporting stream must carry a node whose cluster is
// not empty and is named by the verified client certificate's leaf:
//
//   - a DNS SAN equal to node.cluster (ignoring ASCII case, as DNS does), or
//   - a URI SAN equal to node.cluster, or
//   - a URI SAN whose last path segment equals node.cluster, so that a
//     SPIFFE id such as spiffe://example.org/ns/prod/sa/edge names "edge".
//
// The subject's common name, IP and email SANs name nothing. A stream that
// fails the rule ends with PermissionDenied before anything is served.

// nodeNamedBy reports whether leaf names cluster under the rule.
func nodeNamedBy(cluster string, leaf *x509.Certificate) bool {
	if cluster == "" || leaf == nil {
		return false
	}
	for _, dns := range leaf.DNSNames {
		if strings.EqualFold(dns, cluster) {
			return true
		}
	}
	for _, u := range leaf.URIs {
		path := strings.TrimSuffix(u.Path, "/")
		if u.String() == cluster || path[strings.LastIndex(path, "/")+1:] == cluster {
			return true
		}
	}
	return false
}

// sans lists a certificate's DNS and URI SANs for a log line.
func sans(leaf *x509.Certificate) []string {
	if leaf == nil {
		return nil
	}
	out := make([]string, 0, len(leaf.DNSNames)+len(leaf.URIs))
	for _, dns := range leaf.DNSNames {
		out = append(out, "DNS:"+dns)
	}
	for _, u := range leaf.URIs {
		out = append(out, "URI:"+u.String())
	}
	return out
}

// newRefusedCounter counts refused connections and streams by reason.
func newRefusedCounter(reg prometheus.Registerer) *prometheus.CounterVec {
	c := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "switchyard_xds_streams_refused_total",
		Help: "xDS and LRS connections refused at the TLS handshake, and streams refused by the node identity rule, by reason.",
	}, []string{"reason"})
	if reg != nil {
		reg.MustRegister(c)
	}
	return c
}

// authorizeStreams is a stream interceptor that checks every stream's
// first request against the node identity rule.
func (s *Server) authorizeStreams(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, handler grpc.StreamHandler) error {
	return handler(srv, &authzStream{ServerStream: ss, s: s, method: info.FullMethod})
}

// authzStream checks the node of the first message it receives. Messages
// are received by one goroutine, so checked needs no lock.
type authzStream struct {
	grpc.ServerStream
	s       *Server
	method  string
	checked bool
}

// RecvMsg receives a message, refusing the stream if it is the first and
// its node is not the client certificate's.
func (a *authzStream) RecvMsg(m any) error {
	if err := a.ServerStream.RecvMsg(m); err != nil || a.checked {
		return err
	}
	a.checked = true
	var node *corev3.Node
	if n, ok := m.(interface{ GetNode() *corev3.Node }); ok {
		node = n.GetNode()
	}
	return a.s.authorizeNode(a.Context(), a.method, node)
}

// authorizeNode applies the node identity rule to a stream's node, logging
// and counting a refusal.
func (s *Server) authorizeNode(ctx context.Context, method string, node *corev3.Node) error {
	p, _ := peer.FromContext(ctx)
	remote := ""
	if p != nil && p.Addr != nil {
		remote = p.Addr.String()
	}
	leaf := peerLeaf(p)
	if nodeNamedBy(node.GetCluster(), leaf) {
		return nil
	}
	reason, why := "node_identity", "node cluster is not named by the client certificate"
	switch {
	case leaf == nil:
		reason, why = "no_client_certificate", "node identity cannot be checked without a client certificate"
	case node == nil:
		reason, why = "no_node", "first request carries no node"
	}
	s.refused.WithLabelValues(reason).Inc()
	s.log.Warn("xds stream refused: "+why, "reason", reason, "node", node.GetId(), "cluster", node.GetCluster(),
		"sans", sans(leaf), "remote", remote, "method", method)
	return status.Error(codes.PermissionDenied, fmt.Sprintf("%s: node %q claims cluster %q, certificate names %v",
		why, node.GetId(), node.GetCluster(), sans(leaf)))
}

// peerLeaf returns the verified client certificate of a peer, or nil.
func peerLeaf(p *peer.Peer) *x509.Certificate {
	if p == nil {
		return nil
	}
	info, ok := p.AuthInfo.(credentials.TLSInfo)
	if !ok || len(info.State.VerifiedChains) == 0 || len(info.State.VerifiedChains[0]) == 0 {
		return nil
	}
	return info.State.VerifiedChains[0][0]
}
