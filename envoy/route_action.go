package envoy

import (
	"strings"
	"time"

	routev3 "github.com/envoyproxy/go-control-plane/envoy/config/route/v3"
	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/wrapperspb"
)

// RouteAction says where a matched request goes and how it is forwarded.
type RouteAction struct {
	// Clusters are the upstream clusters, in the order given; the caller
	// drops zero weights. With none the route fails validation.
	Clusters []WeightedCluster
	// PrefixRewrite, if set, replaces the matched path prefix.
	PrefixRewrite string
	// Timeout is Envoy's route timeout; zero keeps Envoy's default of 15s.
	// Proxyless gRPC clients ignore it.
	Timeout time.Duration
	// MaxStreamDuration bounds a whole request or stream; zero leaves it
	// unbounded. It is the timeout proxyless gRPC clients honour.
	MaxStreamDuration time.Duration
	// IdleTimeout bounds how long a stream may go without activity (Envoy
	// only; gRPC clients ignore it); zero leaves it unset.
	IdleTimeout time.Duration
	// Retry, if set, retries failed requests.
	Retry *RetryPolicy
	// HashPolicies compute the hash a ring hash or Maglev cluster balances
	// on.
	HashPolicies []HashPolicy
}

// WeightedCluster is one upstream cluster of a route and its share of the
// traffic.
type WeightedCluster struct {
	// Name is the cluster name.
	Name string
	// Weight is the cluster's share when there are several, in hundredths
	// of a percent (the weights of a route sum to 10000); it is ignored
	// when there is only one cluster.
	Weight uint32
	// RequestHeaders and ResponseHeaders change the headers of the
	// requests sent to this cluster and of their responses; with a single
	// cluster they apply to the route.
	RequestHeaders, ResponseHeaders HeaderModifiers
}

// RetryPolicy says when and how often a request is retried.
type RetryPolicy struct {
	// NumRetries is the number of retries; zero keeps the default of 1,
	// since gRPC clients reject an explicit 0.
	NumRetries uint32
	// RetryOn are the retry conditions, e.g. "5xx" and "reset" for Envoy.
	// Proxyless gRPC clients understand only gRPC status names:
	// "cancelled", "deadline-exceeded", "internal", "resource-exhausted"
	// and "unavailable".
	RetryOn []string
	// RetriableStatusCodes are the HTTP status codes the
	// "retriable-status-codes" condition retries.
	RetriableStatusCodes []uint32
}

// HashPolicy is one input to a request's hash. Exactly one of Header,
// Cookie, SourceIP and QueryParameter should be set. Proxyless gRPC clients
// use only Header and skip the others.
type HashPolicy struct {
	// Header hashes the value of the named request header.
	Header string
	// Cookie hashes the value of a cookie.
	Cookie *CookieHash
	// SourceIP hashes the client's address.
	SourceIP bool
	// QueryParameter hashes the value of the named query parameter.
	QueryParameter string
	// Terminal stops evaluating later hash policies once this one has
	// produced a hash.
	Terminal bool
}

// CookieHash hashes a cookie. With a TTL, Envoy sets the cookie on the
// response when the request lacks it, which makes sessions sticky.
type CookieHash struct {
	// Name is the cookie name.
	Name string
	// TTL is the lifetime of a generated cookie; zero generates none.
	TTL time.Duration
	// Path is the path of a generated cookie.
	Path string
}

// routeAction returns a as Envoy's route action.
func routeAction(a RouteAction) *routev3.RouteAction {
	ra := &routev3.RouteAction{
		PrefixRewrite: a.PrefixRewrite,
		Timeout:       optionalDuration(a.Timeout),
		IdleTimeout:   optionalDuration(a.IdleTimeout),
		RetryPolicy:   retryPolicy(a.Retry),
		HashPolicy:    hashPolicies(a.HashPolicies),
	}
	setClusters(ra, a.Clusters)
	if a.MaxStreamDuration != 0 {
		ra.MaxStreamDuration = &routev3.RouteAction_MaxStreamDuration{
			MaxStreamDuration: durationpb.New(a.MaxStreamDuration),
		}
	}
	return ra
}

// setClusters routes ra to the one cluster given, or splits it between
// several by weight, in the order given. The deprecated total_weight stays
// unset: Envoy and gRPC then use the sum of the weights.
func setClusters(ra *routev3.RouteAction, clusters []WeightedCluster) {
	switch len(clusters) {
	case 0:
		return
	case 1:
		ra.ClusterSpecifier = &routev3.RouteAction_Cluster{Cluster: clusters[0].Name}
	default:
		weighted := make([]*routev3.WeightedCluster_ClusterWeight, 0, len(clusters))
		for _, c := range clusters {
			weighted = append(weighted, &routev3.WeightedCluster_ClusterWeight{
				Name:                    c.Name,
				Weight:                  wrapperspb.UInt32(c.Weight),
				RequestHeadersToAdd:     headersToAdd(c.RequestHeaders),
				RequestHeadersToRemove:  headersToRemove(c.RequestHeaders),
				ResponseHeadersToAdd:    headersToAdd(c.ResponseHeaders),
				ResponseHeadersToRemove: headersToRemove(c.ResponseHeaders),
			})
		}
		ra.ClusterSpecifier = &routev3.RouteAction_WeightedClusters{
			WeightedClusters: &routev3.WeightedCluster{Clusters: weighted},
		}
	}
}

// retryPolicy returns r as Envoy's retry policy, or nil for nil.
func retryPolicy(r *RetryPolicy) *routev3.RetryPolicy {
	if r == nil {
		return nil
	}
	return &routev3.RetryPolicy{
		RetryOn:              strings.Join(r.RetryOn, ","),
		NumRetries:           optionalUInt32(r.NumRetries),
		RetriableStatusCodes: r.RetriableStatusCodes,
	}
}

// hashPolicies returns policies as Envoy's hash policies, or nil if there
// are none.
func hashPolicies(policies []HashPolicy) []*routev3.RouteAction_HashPolicy {
	if len(policies) == 0 {
		return nil
	}
	out := make([]*routev3.RouteAction_HashPolicy, 0, len(policies))
	for _, p := range policies {
		out = append(out, hashPolicy(p))
	}
	return out
}

// hashPolicy returns p as Envoy's hash policy on the first of its inputs
// that is set.
func hashPolicy(p HashPolicy) *routev3.RouteAction_HashPolicy {
	hp := &routev3.RouteAction_HashPolicy{Terminal: p.Terminal}
	switch {
	case p.Header != "":
		hp.PolicySpecifier = &routev3.RouteAction_HashPolicy_Header_{
			Header: &routev3.RouteAction_HashPolicy_Header{HeaderName: p.Header},
		}
	case p.Cookie != nil:
		hp.PolicySpecifier = &routev3.RouteAction_HashPolicy_Cookie_{
			Cookie: &routev3.RouteAction_HashPolicy_Cookie{
				Name: p.Cookie.Name,
				Ttl:  optionalDuration(p.Cookie.TTL),
				Path: p.Cookie.Path,
			},
		}
	case p.SourceIP:
		hp.PolicySpecifier = &routev3.RouteAction_HashPolicy_ConnectionProperties_{
			ConnectionProperties: &routev3.RouteAction_HashPolicy_ConnectionProperties{SourceIp: true},
		}
	case p.QueryParameter != "":
		hp.PolicySpecifier = &routev3.RouteAction_HashPolicy_QueryParameter_{
			QueryParameter: &routev3.RouteAction_HashPolicy_QueryParameter{Name: p.QueryParameter},
		}
	}
	return hp
}
