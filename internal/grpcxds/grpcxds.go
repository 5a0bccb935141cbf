// Package grpcxds connects proxyless gRPC clients to Switchyard.
//
// gRPC-Go reads its xDS bootstrap (GRPC_XDS_BOOTSTRAP or
// GRPC_XDS_BOOTSTRAP_CONFIG) once, at process start, and shares one xDS
// client per process. Demos and tests need to choose the server address at
// run time and may run several clients with different node ids in one
// process, so Dial hands each connection its own bootstrap instead.
package grpcxds

import (
	"encoding/json"
	"fmt"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/xds"
)

// bootstrap mirrors the parts of gRPC's xDS bootstrap file that a client of
// Switchyard needs (see grpc-go internal/xds/bootstrap).
type bootstrap struct {
	XDSServers []xdsServer `json:"xds_servers"`
	Node       node        `json:"node"`
}

type xdsServer struct {
	ServerURI      string        `json:"server_uri"`
	ChannelCreds   []channelCred `json:"channel_creds"`
	ServerFeatures []string      `json:"server_features"`
}

type channelCred struct {
	Type   string     `json:"type"`
	Config *tlsConfig `json:"config,omitempty"`
}

// tlsConfig is the config of the "tls" channel credentials (gRFC A65),
// which gRPC-Go re-reads when the files change.
type tlsConfig struct {
	CACertificateFile string `json:"ca_certificate_file,omitempty"`
	CertificateFile   string `json:"certificate_file,omitempty"`
	PrivateKeyFile    string `json:"private_key_file,omitempty"`
}

// TLSFiles are the PEM files a client uses to reach Switchyard over TLS.
type TLSFiles struct {
	// CAFile holds the CAs that sign Switchyard's server certificate.
	CAFile string
	// CertFile and KeyFile are the client certificate and key presented
	// for mutual TLS; leave both empty for server-only TLS.
	CertFile string
	KeyFile  string
}

type node struct {
	ID      string `json:"id"`
	Cluster string `json:"cluster"`
}

// BootstrapJSON returns a gRPC xDS bootstrap that points at the Switchyard
// xDS server at serverAddr (host:port) over plaintext, identifying the
// client as nodeID in cluster. It asks for "ignore_resource_deletion" (gRFC
// A53) so that a resource missing from one update does not tear down
// working connections.
func BootstrapJSON(serverAddr, nodeID, cluster string) []byte {
	return marshalBootstrap(serverAddr, nodeID, cluster, channelCred{Type: "insecure"})
}

// BootstrapTLSJSON is BootstrapJSON over TLS: the "tls" channel
// credentials trust the server certificates signed by files.CAFile and,
// with a certificate and key, present them for mutual TLS. The server's
// certificate must name the host of serverAddr (an IP SAN for an IP).
// gRPC-Go watches the files, so a renewed client certificate is used from
// the next connection on.
func BootstrapTLSJSON(serverAddr, nodeID, cluster string, files TLSFiles) []byte {
	return marshalBootstrap(serverAddr, nodeID, cluster, channelCred{Type: "tls", Config: &tlsConfig{
		CACertificateFile: files.CAFile, CertificateFile: files.CertFile, PrivateKeyFile: files.KeyFile,
	}})
}

// marshalBootstrap returns the bootstrap of one server reached with creds.
func marshalBootstrap(serverAddr, nodeID, cluster string, creds channelCred) []byte {
	b := bootstrap{
		XDSServers: []xdsServer{{
			ServerURI:      serverAddr,
			ChannelCreds:   []channelCred{creds},
			ServerFeatures: []string{"xds_v3", "ignore_resource_deletion"},
		}},
		Node: node{ID: nodeID, Cluster: cluster},
	}
	out, err := json.MarshalIndent(b, "", "  ")
	if err != nil {
		// Only strings and slices of strings are marshalled, which cannot fail.
		panic(fmt.Sprintf("grpcxds: marshal bootstrap: %v", err))
	}
	return out
}

// Dial creates a client connection to target (for example "xds:///echo")
// whose xds resolver uses the given bootstrap and its own xDS client.
//
// It uses xds.NewXDSResolverWithConfigForTesting because that is the only
// public way in grpc-go to give one connection a bootstrap of its own: the
// environment variables are read once per process, which would pin a
// process to a single Switchyard address and node id. The xDS client is
// created on the first RPC (the connection is lazy, like grpc.NewClient)
// and closed with the connection. Extra opts are appended, so they may
// override the insecure transport credentials.
func Dial(bootstrap []byte, target string, opts ...grpc.DialOption) (*grpc.ClientConn, error) {
	if !json.Valid(bootstrap) {
		return nil, fmt.Errorf("grpcxds: bootstrap for %s is not valid JSON", target)
	}
	resolver, err := xds.NewXDSResolverWithConfigForTesting(bootstrap)
	if err != nil {
		return nil, fmt.Errorf("grpcxds: xds resolver for %s: %w", target, err)
	}
	all := append([]grpc.DialOption{
		grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithResolvers(resolver),
	}, opts...)
	cc, err := grpc.NewClient(target, all...)
	if err != nil {
		return nil, fmt.Errorf("grpcxds: dial %s: %w", target, err)
	}
	return cc, nil
}
