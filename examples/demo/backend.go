package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"time"

	"github.com/hashicorp/consul/api"
	"github.com/spf13/cobra"

	"github.com/switchyard/switchyard/internal/echo"
)

const (
	// registerRetry is the pause between attempts to register while Consul
	// is still starting.
	registerRetry = time.Second
	// deregisterTimeout bounds the deregistration on the way out.
	deregisterTimeout = 5 * time.Second
)

// backendConfig is everything `demo backend` needs, filled from its flags.
type backendConfig struct {
	ID, Listen, Advertise, ConsulAddr string
	// RegisterTimeout bounds the retries while Consul is not reachable yet.
	RegisterTimeout time.Duration
}

// newBackendCommand builds `demo backend`, which runs one echo backend and
// keeps it registered in Consul until it is stopped.
func newBackendCommand() *cobra.Command {
	cfg := backendConfig{Listen: "0.0.0.0:9090", RegisterTimeout: time.Minute}
	cmd := &cobra.Command{
		Use:   "backend",
		Short: "Run one echo backend and register it in Consul with a gRPC health check",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if cfg.ID == "" {
				return usageError{errors.New("--id is required")}
			}
			log := slog.New(slog.NewTextHandler(cmd.ErrOrStderr(), nil)).With("component", "demo-backend", "id", cfg.ID)
			return runBackend(cmd.Context(), log, cfg)
		},
	}
	f := cmd.Flags()
	f.StringVar(&cfg.ID, "id", "", "instance id: the Consul service id and what every RPC answers with (required)")
	f.StringVar(&cfg.Listen, "listen", cfg.Listen, "address the gRPC server listens on")
	f.StringVar(&cfg.Advertise, "advertise", "", "address registered in Consul (a host name is resolved to its IPv4 address); default: the local address that reaches Consul")
	f.StringVar(&cfg.ConsulAddr, "consul-addr", "", "Consul HTTP address (default: $CONSUL_HTTP_ADDR, else 127.0.0.1:8500)")
	f.DurationVar(&cfg.RegisterTimeout, "register-timeout", cfg.RegisterTimeout, "how long to keep trying to register while Consul is unreachable")
	return cmd
}

// runBackend serves until ctx ends, registered in Consul the whole time,
// and deregisters on the way out.
func runBackend(ctx context.Context, log *slog.Logger, cfg backendConfig) error {
	consulCfg := api.DefaultConfig()
	if cfg.ConsulAddr != "" {
		consulCfg.Address = cfg.ConsulAddr
	}
	client, err := api.NewClient(consulCfg)
	if err != nil {
		return fmt.Errorf("consul client: %w", err)
	}
	b, err := echo.Start(cfg.Listen, cfg.ID)
	if err != nil {
		return err
	}
	defer b.Stop()
	address, err := advertiseAddress(ctx, cfg.Advertise, consulCfg.Address)
	if err != nil {
		return err
	}
	reg := registration(serviceName, cfg.ID, address, b.Port)
	if err := register(ctx, log, client, reg, cfg.RegisterTimeout); err != nil {
		return err
	}
	log.Info("serving and registered", "listen", b.Addr, "service", serviceName, "address", address, "port", b.Port, "consul", consulCfg.Address)
	defer func() {
		dctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), deregisterTimeout)
		defer cancel()
		if err := client.Agent().ServiceDeregisterOpts(cfg.ID, (&api.QueryOptions{}).WithContext(dctx)); err != nil {
			log.Warn("deregister from consul", "error", err)
			return
		}
		log.Info("deregistered from consul")
	}()
	<-ctx.Done()
	return nil
}

// register registers reg, retrying every second for up to timeout because
// in a compose setup Consul may still be starting.
func register(ctx context.Context, log *slog.Logger, c *api.Client, reg *api.AgentServiceRegistration, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	var err error
	for attempt := range int(timeout/registerRetry) + 1 {
		err = c.Agent().ServiceRegisterOpts(reg, api.ServiceRegisterOpts{}.WithContext(ctx))
		if err == nil {
			return nil
		}
		log.Warn("register in consul failed, retrying", "attempt", attempt+1, "error", err)
		if perr := pause(ctx, registerRetry); perr != nil {
			break
		}
	}
	return fmt.Errorf("register %s in consul within %s: %w", reg.ID, timeout, err)
}

// advertiseAddress returns the IP to register: flag resolved to IPv4 if it
// is a host name, or, when flag is empty, the local address used to reach
// consulAddr. Consul endpoints must be IPs for Switchyard to send them as
// EDS endpoints.
func advertiseAddress(ctx context.Context, flag, consulAddr string) (string, error) {
	if flag != "" {
		if net.ParseIP(flag) != nil {
			return flag, nil
		}
		ips, err := net.DefaultResolver.LookupIP(ctx, "ip4", flag)
		if err != nil {
			return "", fmt.Errorf("resolve --advertise %s: %w", flag, err)
		}
		if len(ips) == 0 {
			return "", fmt.Errorf("resolve --advertise %s: no IPv4 address", flag)
		}
		return ips[0].String(), nil
	}
	// CONSUL_HTTP_ADDR may carry a scheme; the dial needs host:port.
	if u, err := url.Parse(consulAddr); err == nil && u.Host != "" {
		consulAddr = u.Host
	}
	// Dialling UDP sends nothing; it only asks the kernel which local
	// address routes to Consul.
	conn, err := net.Dial("udp4", consulAddr)
	if err != nil {
		return "", fmt.Errorf("find the local address that reaches consul at %s (set --advertise): %w", consulAddr, err)
	}
	defer conn.Close()
	local, ok := conn.LocalAddr().(*net.UDPAddr)
	if !ok {
		return "", fmt.Errorf("local address %v is not UDP", conn.LocalAddr())
	}
	return local.IP.String(), nil
}

// pause waits for d, or less if ctx ends first.
func pause(ctx context.Context, d time.Duration) error {
	timer := time.NewTimer(d)
	defer timer.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-timer.C:
		return nil
	}
}
