package main

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/hashicorp/consul/api"
	"golang.org/x/sync/errgroup"

	"github.com/switchyard/switchyard/internal/consulagent"
)

// consulUpstreams is how many upstreams each Consul proxy has: the first
// service, whose instances the changes flip.
const consulUpstreams = 1

// Ports of every connect-proxy registration. Nothing binds them: the
// proxies are simulated.
const (
	proxyPort         = 21000
	proxyAppPort      = 8080
	proxyUpstreamPort = 9000
)

// consulTarget registers, on the agent itself, a connect-proxy service per
// simulated proxy (and one for the probe) and points the fleet at Consul's
// own xDS server on its gRPC port. The services are registered already.
func consulTarget(ctx context.Context, log *slog.Logger, cfg loadConfig, agent *consulagent.Agent, ch *churn) (*target, error) {
	start := time.Now()
	upstream := ch.serviceName(0)
	if err := registerProxy(ctx, ch, proxyRegistration(cfg, probeID(cfg), maxProxies, upstream)); err != nil {
		return nil, err
	}
	if err := registerProxies(ctx, cfg, ch, 0, cfg.Streams); err != nil {
		return nil, err
	}
	log.Info("registered connect proxies", "proxies", cfg.Streams+1, "took", time.Since(start).Round(time.Millisecond))
	// Proxies for a larger fleet are registered only when it grows: every
	// registered proxy gets every update of its upstream, whether an
	// Envoy is connected or not, so they would slow the changes down.
	grow := func(ctx context.Context, from, to int) error { return registerProxies(ctx, cfg, ch, from, to) }
	return &target{xdsAddr: agent.GRPCAddr, consulAddr: agent.HTTPAddr, pid: agent.PID(), stop: agent.Stop, beforeGrow: grow}, nil
}

// maxProxies numbers the probe's proxy past any fleet, for its address.
const maxProxies = 20000

// registerProxies registers the proxies from..to-1 through the agent API,
// under the churn's write cap.
func registerProxies(ctx context.Context, cfg loadConfig, ch *churn, from, to int) error {
	upstream := ch.serviceName(0)
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(cfg.Writers)
	for i := from; i < to; i++ {
		if gctx.Err() != nil {
			break
		}
		g.Go(func() error {
			if err := ch.limiter.Wait(gctx); err != nil {
				return err
			}
			return registerProxy(gctx, ch, proxyRegistration(cfg, proxyID(cfg, i), i, upstream))
		})
	}
	return g.Wait()
}

// registerProxy registers one connect-proxy on the agent.
func registerProxy(ctx context.Context, ch *churn, reg *api.AgentServiceRegistration) error {
	if err := ch.client.Agent().ServiceRegisterOpts(reg, api.ServiceRegisterOpts{}.WithContext(ctx)); err != nil {
		return fmt.Errorf("register connect proxy %s: %w", reg.ID, err)
	}
	return nil
}

// proxyRegistration is the connect-proxy the simulated Envoy i announces
// itself as: Envoy's node.id is the proxy's service id, its node.cluster
// the service name. Its address is in 127.200.0.0/16, apart from the
// churn's nodes.
func proxyRegistration(cfg loadConfig, id string, i int, upstream string) *api.AgentServiceRegistration {
	return &api.AgentServiceRegistration{
		Kind: api.ServiceKindConnectProxy, ID: id, Name: cfg.NodeCluster,
		Address: fmt.Sprintf("127.200.%d.%d", i>>8&0xff, i&0xff), Port: proxyPort,
		Proxy: &api.AgentServiceConnectProxyConfig{
			DestinationServiceName: cfg.NodeCluster + "-app", LocalServicePort: proxyAppPort,
			Upstreams: []api.Upstream{{DestinationName: upstream, LocalBindPort: proxyUpstreamPort}},
		},
	}
}

// consulClusterService maps the name of a Consul upstream's endpoint
// assignment, <service>.<namespace>.<dc>.internal.<trust domain>.consul,
// to the service.
func consulClusterService(name string) string {
	service, _, _ := strings.Cut(name, ".")
	return service
}
