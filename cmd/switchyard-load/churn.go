package main

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"time"

	"github.com/hashicorp/consul/api"
	"golang.org/x/sync/errgroup"
	"golang.org/x/time/rate"
)

// consulTimeout bounds every Consul write.
const consulTimeout = 10 * time.Second

// churnConfig sizes the registry the generator builds and how fast it may
// write to Consul.
type churnConfig struct {
	prefix              string
	services, instances int
	// writesPerSecond caps all writes together; writers is how many run
	// at once.
	writesPerSecond int
	writers         int
}

// churn registers services in Consul through the agent API, with a TTL
// check per instance, and flips those checks one at a time.
type churn struct {
	log     *slog.Logger
	cfg     churnConfig
	client  *api.Client
	limiter *rate.Limiter
	// healthy is the state churn last wrote, per service and instance.
	healthy [][]bool
}

// newChurn connects to the Consul agent at addr.
func newChurn(log *slog.Logger, addr string, cfg churnConfig) (*churn, error) {
	cc := api.DefaultConfig()
	cc.Address = addr
	cc.HttpClient = &http.Client{Timeout: consulTimeout, Transport: &http.Transport{MaxIdleConnsPerHost: cfg.writers}}
	client, err := api.NewClient(cc)
	if err != nil {
		return nil, fmt.Errorf("consul client: %w", err)
	}
	h := make([][]bool, cfg.services)
	for s := range h {
		h[s] = make([]bool, cfg.instances)
	}
	return &churn{
		log: log, cfg: cfg, client: client, healthy: h,
		limiter: rate.NewLimiter(rate.Limit(cfg.writesPerSecond), cfg.writers),
	}, nil
}

// serviceName and instanceID name what churn registers.
func (c *churn) serviceName(s int) string { return fmt.Sprintf("%s%04d", c.cfg.prefix, s) }

func (c *churn) instanceID(s, i int) string { return fmt.Sprintf("%s-%d", c.serviceName(s), i) }

// register registers every instance with a passing TTL check, several at a
// time under the write rate cap.
func (c *churn) register(ctx context.Context) error {
	start := time.Now()
	g, gctx := errgroup.WithContext(ctx)
	next := make(chan [2]int)
	g.Go(func() error {
		defer close(next)
		for s := range c.cfg.services {
			for i := range c.cfg.instances {
				select {
				case next <- [2]int{s, i}:
				case <-gctx.Done():
					return nil
				}
			}
		}
		return nil
	})
	for range c.cfg.writers {
		g.Go(func() error {
			for si := range next {
				if err := c.registerOne(gctx, si[0], si[1]); err != nil {
					return err
				}
			}
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return err
	}
	c.log.Info("registered", "services", c.cfg.services, "instances", c.cfg.services*c.cfg.instances, "took", time.Since(start).Round(time.Millisecond))
	return nil
}

// registerOne registers instance i of service s on a loopback address of
// its own within the service.
func (c *churn) registerOne(ctx context.Context, s, i int) error {
	if err := c.limiter.Wait(ctx); err != nil {
		return fmt.Errorf("register: %w", err)
	}
	id := c.instanceID(s, i)
	reg := &api.AgentServiceRegistration{
		ID: id, Name: c.serviceName(s),
		Address: fmt.Sprintf("127.0.0.%d", 1+s%250), Port: 20000 + i,
		Check: &api.AgentServiceCheck{CheckID: "ttl:" + id, TTL: "24h", Status: api.HealthPassing},
	}
	if err := c.client.Agent().ServiceRegisterOpts(reg, api.ServiceRegisterOpts{}.WithContext(ctx)); err != nil {
		return fmt.Errorf("register %s: %w", id, err)
	}
	c.healthy[s][i] = true
	return nil
}

// next prepares change k and records it as the state to come: it flips
// instance k/S mod I of service k mod S, so that consecutive changes touch
// different services.
func (c *churn) next(k, streams int) *change {
	s := k % c.cfg.services
	i := (k / c.cfg.services) % c.cfg.instances
	status := api.HealthCritical
	if !c.healthy[s][i] {
		status = api.HealthPassing
	}
	c.healthy[s][i] = status == api.HealthPassing
	want := 0
	for _, ok := range c.healthy[s] {
		if ok {
			want++
		}
	}
	return newChange(k, c.serviceName(s), c.instanceID(s, i), status, want, streams)
}

// apply writes ch to Consul, restamping its start to the moment the write
// begins.
func (c *churn) apply(ctx context.Context, ch *change) error {
	if err := c.limiter.Wait(ctx); err != nil {
		return fmt.Errorf("change %d: %w", ch.id, err)
	}
	ch.start = time.Now()
	if err := c.client.Agent().UpdateTTLOpts("ttl:"+ch.instance, "set by switchyard-load", ch.status, (&api.QueryOptions{}).WithContext(ctx)); err != nil {
		return fmt.Errorf("change %d (%s %s): %w", ch.id, ch.instance, ch.status, err)
	}
	return nil
}

// deregister removes every instance churn registered, under the same cap.
func (c *churn) deregister(ctx context.Context) error {
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(c.cfg.writers)
	for s := range c.cfg.services {
		for i := range c.cfg.instances {
			g.Go(func() error {
				if err := c.limiter.Wait(gctx); err != nil {
					return fmt.Errorf("deregister: %w", err)
				}
				id := c.instanceID(s, i)
				if err := c.client.Agent().ServiceDeregisterOpts(id, (&api.QueryOptions{}).WithContext(gctx)); err != nil {
					return fmt.Errorf("deregister %s: %w", id, err)
				}
				return nil
			})
		}
	}
	return g.Wait()
}
