package envoy

import (
	"time"

	clusterv3 "github.com/envoyproxy/go-control-plane/envoy/config/cluster/v3"
	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	"google.golang.org/protobuf/types/known/wrapperspb"
)

// LBPolicy selects how a cluster spreads requests over its hosts.
type LBPolicy int

const (
	// LBRoundRobin is Envoy's and gRPC's default: weighted round robin,
	// with locality weights honoured.
	LBRoundRobin LBPolicy = iota
	// LBLeastRequest picks the less loaded of ChoiceCount random hosts.
	LBLeastRequest
	// LBRingHash is consistent hashing over the route's hash policies,
	// with the XX_HASH function, the only one gRPC clients accept.
	LBRingHash
	// LBMaglev is Envoy's Maglev consistent hashing. Proxyless gRPC
	// clients reject it.
	LBMaglev
	// LBRandom picks a random host. Proxyless gRPC clients reject it.
	LBRandom
)

// LoadBalancing configures a cluster's load balancer. Its zero value is
// round robin with Envoy's defaults.
type LoadBalancing struct {
	// Policy is the load balancing algorithm.
	Policy LBPolicy
	// ChoiceCount is how many hosts least request compares; zero keeps the
	// default of 2. Envoy and gRPC reject 1.
	ChoiceCount uint32
	// MinRingSize and MaxRingSize bound a ring hash's ring; zero keeps the
	// defaults (1024 and 8M). Neither may exceed 8M (8388608).
	MinRingSize, MaxRingSize uint64
}

// CircuitBreakers are a cluster's limits at the DEFAULT routing priority; a
// nil field keeps Envoy's default of 1024. Proxyless gRPC clients honour only
// MaxRequests.
type CircuitBreakers struct {
	MaxConnections, MaxPendingRequests, MaxRequests *uint32
}

// OutlierDetection configures passive health checking; a zero field keeps
// the client's default. Merely setting it on a cluster turns on Envoy's
// consecutive-5xx and success-rate ejection with their defaults, and gRPC's
// success-rate ejection (gRPC ignores the consecutive-5xx fields).
type OutlierDetection struct {
	// Interval is the time between ejection sweeps.
	Interval time.Duration
	// Consecutive5xx is how many 5xx in a row eject a host.
	Consecutive5xx uint32
	// EnforcingConsecutive5xx is the percentage (0..100) of such ejections
	// that are carried out; 0 turns them off, nil keeps 100.
	EnforcingConsecutive5xx *uint32
	// MaxEjectionPercent caps the share (0..100) of hosts ejected at once.
	MaxEjectionPercent *uint32
	// BaseEjectionTime is how long a first ejection lasts.
	BaseEjectionTime time.Duration
}

// applyLoadBalancing sets c's lb_policy and, for least request and ring
// hash, its policy config.
func applyLoadBalancing(c *clusterv3.Cluster, lb LoadBalancing) {
	switch lb.Policy {
	case LBLeastRequest:
		c.LbPolicy = clusterv3.Cluster_LEAST_REQUEST
		if lb.ChoiceCount != 0 {
			c.LbConfig = &clusterv3.Cluster_LeastRequestLbConfig_{
				LeastRequestLbConfig: &clusterv3.Cluster_LeastRequestLbConfig{ChoiceCount: wrapperspb.UInt32(lb.ChoiceCount)},
			}
		}
	case LBRingHash:
		c.LbPolicy = clusterv3.Cluster_RING_HASH
		c.LbConfig = &clusterv3.Cluster_RingHashLbConfig_{
			RingHashLbConfig: &clusterv3.Cluster_RingHashLbConfig{
				HashFunction:    clusterv3.Cluster_RingHashLbConfig_XX_HASH,
				MinimumRingSize: optionalUInt64(lb.MinRingSize),
				MaximumRingSize: optionalUInt64(lb.MaxRingSize),
			},
		}
	case LBMaglev:
		c.LbPolicy = clusterv3.Cluster_MAGLEV
	case LBRandom:
		c.LbPolicy = clusterv3.Cluster_RANDOM
	default:
		c.LbPolicy = clusterv3.Cluster_ROUND_ROBIN
	}
}

// circuitBreakers returns one DEFAULT-priority threshold holding the limits
// that are set, or nil for nil.
func circuitBreakers(cb *CircuitBreakers) *clusterv3.CircuitBreakers {
	if cb == nil {
		return nil
	}
	return &clusterv3.CircuitBreakers{
		Thresholds: []*clusterv3.CircuitBreakers_Thresholds{{
			Priority:           corev3.RoutingPriority_DEFAULT,
			MaxConnections:     uint32Value(cb.MaxConnections),
			MaxPendingRequests: uint32Value(cb.MaxPendingRequests),
			MaxRequests:        uint32Value(cb.MaxRequests),
		}},
	}
}

// outlierDetection returns od as Envoy's outlier detection, or nil for nil.
func outlierDetection(od *OutlierDetection) *clusterv3.OutlierDetection {
	if od == nil {
		return nil
	}
	return &clusterv3.OutlierDetection{
		Interval:                 optionalDuration(od.Interval),
		Consecutive_5Xx:          optionalUInt32(od.Consecutive5xx),
		EnforcingConsecutive_5Xx: uint32Value(od.EnforcingConsecutive5xx),
		MaxEjectionPercent:       uint32Value(od.MaxEjectionPercent),
		BaseEjectionTime:         optionalDuration(od.BaseEjectionTime),
	}
}
