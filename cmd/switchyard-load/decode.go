package main

import (
	"fmt"

	listenerv3 "github.com/envoyproxy/go-control-plane/envoy/config/listener/v3"
	hcmv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/network/http_connection_manager/v3"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"
)

// Field numbers read straight off the wire, so that a simulated proxy never
// unmarshals the thousands of clusters and endpoint assignments it receives:
// a full decode per stream would make the load tool, not Switchyard, the
// bottleneck on a small machine.
const (
	fieldClusterName        = 1 // envoy.config.cluster.v3.Cluster.name
	fieldClusterType        = 2 // Cluster.type
	fieldClusterEDSConfig   = 3 // Cluster.eds_cluster_config
	fieldEDSServiceName     = 2 // Cluster.EdsClusterConfig.service_name
	clusterTypeEDS          = 3 // Cluster.DiscoveryType EDS
	fieldCLAName            = 1 // ClusterLoadAssignment.cluster_name
	fieldCLAEndpoints       = 2 // ClusterLoadAssignment.endpoints
	fieldLocalityLBEndpoint = 2 // LocalityLbEndpoints.lb_endpoints
	fieldLBEndpointHealth   = 2 // LbEndpoint.health_status
	healthUnhealthy         = 2 // core.v3.HealthStatus UNHEALTHY
	healthDraining          = 3 // HealthStatus DRAINING
	healthTimeout           = 4 // HealthStatus TIMEOUT
	fieldRouteConfigName    = 1 // RouteConfiguration.name
)

// walk calls visit for every top-level field of a serialized message, with
// the payload of length-delimited fields and the value of varints.
func walk(b []byte, visit func(num protowire.Number, payload []byte, varint uint64)) error {
	for len(b) > 0 {
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 {
			return fmt.Errorf("read field tag: %w", protowire.ParseError(n))
		}
		b = b[n:]
		switch typ {
		case protowire.BytesType:
			v, m := protowire.ConsumeBytes(b)
			if m < 0 {
				return fmt.Errorf("read field %d: %w", num, protowire.ParseError(m))
			}
			visit(num, v, 0)
			n = m
		case protowire.VarintType:
			v, m := protowire.ConsumeVarint(b)
			if m < 0 {
				return fmt.Errorf("read field %d: %w", num, protowire.ParseError(m))
			}
			visit(num, nil, v)
			n = m
		default:
			n = protowire.ConsumeFieldValue(num, typ, b)
			if n < 0 {
				return fmt.Errorf("skip field %d: %w", num, protowire.ParseError(n))
			}
		}
		b = b[n:]
	}
	return nil
}

// nameField returns the string in field num of a serialized message.
func nameField(b []byte, num protowire.Number) (string, error) {
	var name string
	err := walk(b, func(n protowire.Number, payload []byte, _ uint64) {
		if n == num && name == "" {
			name = string(payload)
		}
	})
	return name, err
}

// edsServiceName returns the endpoint assignment name an EDS cluster asks
// for (its service_name, else its own name) and whether it is an EDS
// cluster at all.
func edsServiceName(cluster []byte) (string, bool, error) {
	var name, service string
	var typ uint64
	var cfg []byte
	err := walk(cluster, func(n protowire.Number, payload []byte, v uint64) {
		switch n {
		case fieldClusterName:
			name = string(payload)
		case fieldClusterType:
			typ = v
		case fieldClusterEDSConfig:
			cfg = payload
		}
	})
	if err != nil || typ != clusterTypeEDS {
		return "", false, err
	}
	if cfg != nil {
		if service, err = nameField(cfg, fieldEDSServiceName); err != nil {
			return "", false, err
		}
	}
	if service == "" {
		service = name
	}
	return service, true, nil
}

// claEndpoints returns the name of a serialized ClusterLoadAssignment and
// how many of its endpoints, over all its localities, take traffic: all
// but those marked unhealthy, draining or timed out. Switchyard leaves a
// critical instance out; Consul sends it marked unhealthy.
func claEndpoints(cla []byte) (string, int, error) {
	var name string
	count := 0
	var inner error
	keep := func(e error) {
		if e != nil && inner == nil {
			inner = e
		}
	}
	err := walk(cla, func(n protowire.Number, payload []byte, _ uint64) {
		switch n {
		case fieldCLAName:
			name = string(payload)
		case fieldCLAEndpoints:
			keep(walk(payload, func(m protowire.Number, lb []byte, _ uint64) {
				if m != fieldLocalityLBEndpoint {
					return
				}
				serving, err := takesTraffic(lb)
				keep(err)
				if serving {
					count++
				}
			}))
		}
	})
	if err == nil {
		err = inner
	}
	return name, count, err
}

// takesTraffic reads the health status of a serialized LbEndpoint.
func takesTraffic(lb []byte) (bool, error) {
	var health uint64
	err := walk(lb, func(n protowire.Number, _ []byte, v uint64) {
		if n == fieldLBEndpointHealth {
			health = v
		}
	})
	return health != healthUnhealthy && health != healthDraining && health != healthTimeout, err
}

// routeConfigNames returns the route configurations a serialized Listener
// loads over RDS. Listeners are few, so this one is fully decoded.
func routeConfigNames(b []byte) ([]string, error) {
	var l listenerv3.Listener
	if err := proto.Unmarshal(b, &l); err != nil {
		return nil, fmt.Errorf("decode listener: %w", err)
	}
	var names []string
	add := func(hcmAny interface{ GetValue() []byte }) error {
		var hcm hcmv3.HttpConnectionManager
		if err := proto.Unmarshal(hcmAny.GetValue(), &hcm); err != nil {
			return fmt.Errorf("decode http connection manager of %s: %w", l.GetName(), err)
		}
		if n := hcm.GetRds().GetRouteConfigName(); n != "" {
			names = append(names, n)
		}
		return nil
	}
	if api := l.GetApiListener().GetApiListener(); api != nil {
		if err := add(api); err != nil {
			return nil, err
		}
	}
	for _, fc := range l.GetFilterChains() {
		for _, f := range fc.GetFilters() {
			if tc := f.GetTypedConfig(); tc != nil && f.GetName() == "envoy.filters.network.http_connection_manager" {
				if err := add(tc); err != nil {
					return nil, err
				}
			}
		}
	}
	return names, nil
}
