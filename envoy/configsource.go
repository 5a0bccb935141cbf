package envoy

import (
	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
)

// adsConfigSource returns a config source that fetches resources over the
// aggregated (ADS) stream. Every dynamic resource uses it because proxyless
// gRPC clients only accept `ads` (or `self`) config sources and because one
// stream lets the server order updates so that nothing refers to a resource
// the client does not have yet.
func adsConfigSource() *corev3.ConfigSource {
	return &corev3.ConfigSource{
		ResourceApiVersion: corev3.ApiVersion_V3,
		ConfigSourceSpecifier: &corev3.ConfigSource_Ads{
			Ads: &corev3.AggregatedConfigSource{},
		},
	}
}

// selfConfigSource returns a config source that names the management
// server that sent the resource, which is how a cluster names Switchyard as
// its load reporting server (gRPC clients accept nothing else there).
func selfConfigSource() *corev3.ConfigSource {
	return &corev3.ConfigSource{
		ResourceApiVersion: corev3.ApiVersion_V3,
		ConfigSourceSpecifier: &corev3.ConfigSource_Self{
			Self: &corev3.SelfConfigSource{},
		},
	}
}
