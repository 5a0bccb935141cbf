package envoy

import (
	hcmv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/network/http_connection_manager/v3"
	"google.golang.org/protobuf/types/known/wrapperspb"
)

// HCMOptions are the settings an Envoy listener's HTTP connection manager
// may add to this package's defaults. The zero value adds nothing, so a
// listener built with it is the same as one built without options.
//
// They are for Envoy listeners only: proxyless gRPC clients reject a
// connection manager with xff_num_trusted_hops other than 0, so APIListener
// takes none.
type HCMOptions struct {
	// AccessLogs are the access logs of every request, in the order given.
	AccessLogs []AccessLogOptions
	// GenerateRequestID, if set, says whether Envoy creates an
	// x-request-id for requests that lack one; unset keeps Envoy's default
	// (it does).
	GenerateRequestID *bool
	// UseRemoteAddress makes Envoy take the client's address from the
	// connection rather than from x-forwarded-for, as an edge proxy must.
	UseRemoteAddress bool
	// XFFNumTrustedHops is how many proxies in front of Envoy append to
	// x-forwarded-for and are trusted to do so.
	XFFNumTrustedHops uint32
}

// applyHCMOptions sets opts on h and returns it. Fields of the zero options
// are left unset so that existing output does not change.
func applyHCMOptions(h *hcmv3.HttpConnectionManager, opts HCMOptions) *hcmv3.HttpConnectionManager {
	for _, l := range opts.AccessLogs {
		h.AccessLog = append(h.AccessLog, AccessLog(l))
	}
	if opts.GenerateRequestID != nil {
		h.GenerateRequestId = wrapperspb.Bool(*opts.GenerateRequestID)
	}
	if opts.UseRemoteAddress {
		h.UseRemoteAddress = wrapperspb.Bool(true)
	}
	h.XffNumTrustedHops = opts.XFFNumTrustedHops
	return h
}
