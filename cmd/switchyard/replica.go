package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strconv"
	"time"

	"github.com/hashicorp/consul/api"
)

// replicaService is the Consul service every Switchyard replica registers
// as; `switchyard status` finds the replicas through it.
const replicaService = "switchyard"

// Meta keys of a replica's registration.
const (
	replicaMetaXDSAddr = "xds_addr"
	replicaMetaVersion = "version"
)

// How a replica's registration is checked, retried and removed.
const (
	replicaCheckInterval   = 10 * time.Second
	replicaCheckTimeout    = 2 * time.Second
	replicaDeregisterAfter = time.Minute
	replicaRetryMin        = time.Second
	replicaRetryMax        = 30 * time.Second
	replicaDeregisterLimit = 2 * time.Second
)

// replicaID names the replica serving on adminAddr (a bound address) by
// host name and admin port: the id of its Consul registration, which the
// rollout leader lock records too.
func replicaID(adminAddr string) string {
	hostname, err := os.Hostname()
	if err != nil {
		hostname = "unknown"
	}
	_, port, err := net.SplitHostPort(adminAddr)
	if err != nil {
		port = adminAddr
	}
	return fmt.Sprintf("%s-%s-%s", replicaService, hostname, port)
}

// replica registers this Switchyard with the local Consul agent while it
// serves, and deregisters it when it stops. Registration is best effort:
// Switchyard serves xDS whether or not Consul lists it.
type replica struct {
	agent *api.Agent
	log   *slog.Logger
	reg   *api.AgentServiceRegistration
}

// newReplica describes this replica from its bound admin and xDS
// addresses; the admin address is what Consul lists and checks.
func newReplica(client *api.Client, adminAddr, xdsAddr string, log *slog.Logger) (*replica, error) {
	host, portStr, err := net.SplitHostPort(adminAddr)
	if err != nil {
		return nil, fmt.Errorf("admin address %q: %w", adminAddr, err)
	}
	port, err := strconv.Atoi(portStr)
	if err != nil {
		return nil, fmt.Errorf("admin port %q: %w", portStr, err)
	}
	id := replicaID(adminAddr)
	// A wildcard listener is reachable on the node's address, which Consul
	// puts in place of an empty service address; the local agent checks it
	// on loopback.
	checkHost := host
	if ip := net.ParseIP(host); ip != nil && ip.IsUnspecified() {
		host, checkHost = "", "127.0.0.1"
	}
	reg := &api.AgentServiceRegistration{
		ID:      id,
		Name:    replicaService,
		Address: host,
		Port:    port,
		Meta:    map[string]string{replicaMetaXDSAddr: xdsAddr, replicaMetaVersion: version},
		Check: &api.AgentServiceCheck{
			CheckID:                        id + ":healthz",
			Name:                           "Switchyard admin /healthz",
			HTTP:                           "http://" + net.JoinHostPort(checkHost, portStr) + "/healthz",
			Method:                         http.MethodGet,
			Interval:                       replicaCheckInterval.String(),
			Timeout:                        replicaCheckTimeout.String(),
			DeregisterCriticalServiceAfter: replicaDeregisterAfter.String(),
			// The admin listener is bound before registration, so the
			// replica starts passing rather than critical until the
			// agent's first (randomly staggered) run of the check.
			Status: api.HealthPassing,
		},
	}
	return &replica{agent: client.Agent(), log: log.With("component", "replica"), reg: reg}, nil
}

// Run registers the replica, retrying with backoff until it succeeds or
// Consul refuses the token, then waits for ctx and deregisters. It never
// fails: a replica that Consul does not list still serves.
func (r *replica) Run(ctx context.Context) error {
	registered := r.register(ctx)
	<-ctx.Done()
	if registered {
		r.deregister()
	}
	return nil
}

// register tries until the registration succeeds (true), ctx is done or
// Consul refuses the token (false).
func (r *replica) register(ctx context.Context) bool {
	wait := replicaRetryMin
	for {
		err := r.agent.ServiceRegisterOpts(r.reg, api.ServiceRegisterOpts{ReplaceExistingChecks: true}.WithContext(ctx))
		if err == nil {
			r.log.Info("registered in Consul", "service", r.reg.Name, "id", r.reg.ID, "address", net.JoinHostPort(r.reg.Address, strconv.Itoa(r.reg.Port)))
			return true
		}
		if ctx.Err() != nil {
			return false
		}
		var se api.StatusError
		if errors.As(err, &se) && se.Code == http.StatusForbidden {
			r.log.Warn("not registered in Consul: the token may not write the service; `switchyard status` needs --admin-addr to find this replica",
				"service", r.reg.Name, "id", r.reg.ID, "error", err)
			return false
		}
		r.log.Warn("register in Consul failed; retrying", "service", r.reg.Name, "id", r.reg.ID, "retry_in", wait, "error", err)
		select {
		case <-ctx.Done():
			return false
		case <-time.After(wait):
		}
		wait = min(2*wait, replicaRetryMax)
	}
}

// deregister removes the registration, bounded by a short timeout so that
// an unreachable Consul cannot hold up shutdown; the check's
// DeregisterCriticalServiceAfter removes it otherwise.
func (r *replica) deregister() {
	ctx, cancel := context.WithTimeout(context.Background(), replicaDeregisterLimit)
	defer cancel()
	if err := r.agent.ServiceDeregisterOpts(r.reg.ID, (&api.QueryOptions{}).WithContext(ctx)); err != nil {
		r.log.Warn("deregister from Consul failed; Consul removes it once its check has failed for a while",
			"id", r.reg.ID, "after", replicaDeregisterAfter, "error", err)
		return
	}
	r.log.Info("deregistered from Consul", "id", r.reg.ID)
}
