package xds

import (
	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	tlsv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/transport_sockets/tls/v3"
	"google.golang.org/protobuf/proto"
)

// Redacted replaces every private key in what Switchyard shows of its
// resources: dumps, status and the dashboard. Only proxies get the keys.
const Redacted = "[redacted]"

// redacted returns msg with the private key of a TLS certificate secret
// replaced by Redacted. msg is a decoded copy that nothing else holds, so
// it is changed in place.
func redacted(msg proto.Message) proto.Message {
	sec, ok := msg.(*tlsv3.Secret)
	if !ok {
		return msg
	}
	if c := sec.GetTlsCertificate(); c != nil && c.GetPrivateKey() != nil {
		c.PrivateKey = &corev3.DataSource{Specifier: &corev3.DataSource_InlineString{InlineString: Redacted}}
	}
	return msg
}
