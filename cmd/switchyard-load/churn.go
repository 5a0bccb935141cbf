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

// maxInstances bounds services × instances: every instance gets a
// synthetic node of its own with an address in 127.0.0.0/8, which holds
// 2^24 of them.
const maxInstances = 1 << 20

// churnConfig sizes the registry the generator builds and how fast it may
// write to Consul.
type churnConfig struct {
	prefix              string
	services, instances int
	// writesPerSecond caps all writes together; writers is how many run
	// at once.
	writesPerSecond int
	writers         int
	// changed is how many services, the first ones, the changes cycle
	// over; 0 means all.
	changed int
	// connectNative registers every instance as Connect-native, so that
	// Consul's own xDS server sends it to the proxies that have its
	// service as an upstream.
	connectNative bool
}

// churn registers services in Consul's catalog, each instance on a
// synthetic node of its own with one passing service check, and flips
// those checks one at a time by re-registering them.
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
	// MaxConnsPerHost keeps a steady churn, a goroutine per change, within
	// Consul's limit of concurrent connections per client address.
	cc.HttpClient = &http.Client{Timeout: consulTimeout,
		Transport: &http.Transport{MaxIdleConnsPerHost: cfg.writers, MaxConnsPerHost: cfg.writers}}
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

// nodeIndex numbers instance i of service s among all instances.
func (c *churn) nodeIndex(s, i int) int { return s*c.cfg.instances + i }

// nodeName names the synthetic node of instance i of service s.
func (c *churn) nodeName(s, i int) string {
	return fmt.Sprintf("%snode-%05d", c.cfg.prefix, c.nodeIndex(s, i))
}

// nodeAddress is the node's address: always loopback, 127.0.0.0/8, never
// 127.0.0.0 itself.
func (c *churn) nodeAddress(s, i int) string {
	n := (c.nodeIndex(s, i) + 1) % (1 << 24)
	return fmt.Sprintf("127.%d.%d.%d", n>>16&0xff, n>>8&0xff, n&0xff)
}

// checkID names the service check of an instance.
func checkID(instance string) string { return "load:" + instance }

// check is the catalog check of instance i of service s with status.
func (c *churn) check(s, i int, status string) *api.AgentCheck {
	id := c.instanceID(s, i)
	return &api.AgentCheck{
		Node: c.nodeName(s, i), CheckID: checkID(id), Name: "switchyard-load",
		Status: status, Output: "set by switchyard-load",
		ServiceID: id, ServiceName: c.serviceName(s),
	}
}

// register registers every instance with a passing check, several at a
// time under the write rate cap.
func (c *churn) register(ctx context.Context) error {
	start := time.Now()
	err := c.eachInstance(ctx, c.registerOne)
	if err != nil {
		return err
	}
	c.log.Info("registered", "services", c.cfg.services, "instances", c.cfg.services*c.cfg.instances, "took", time.Since(start).Round(time.Millisecond))
	return nil
}

// eachInstance runs fn on every instance with cfg.writers writers, each
// write waiting for the rate limiter; the first error stops the rest.
func (c *churn) eachInstance(ctx context.Context, fn func(ctx context.Context, s, i int) error) error {
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
				if err := c.limiter.Wait(gctx); err != nil {
					return err
				}
				if err := fn(gctx, si[0], si[1]); err != nil {
					return err
				}
			}
			return nil
		})
	}
	return g.Wait()
}

// registerOne registers instance i of service s on its own synthetic node,
// at a loopback service address shared within the service.
func (c *churn) registerOne(ctx context.Context, s, i int) error {
	id := c.instanceID(s, i)
	reg := &api.CatalogRegistration{
		Node: c.nodeName(s, i), Address: c.nodeAddress(s, i),
		NodeMeta: map[string]string{"switchyard-load": "true"},
		Service: &api.AgentService{
			ID: id, Service: c.serviceName(s),
			Address: fmt.Sprintf("127.0.0.%d", 1+s%250), Port: 20000 + i,
		},
		Check: c.check(s, i, api.HealthPassing),
	}
	if c.cfg.connectNative {
		reg.Service.Connect = &api.AgentServiceConnect{Native: true}
	}
	if _, err := c.client.Catalog().Register(reg, (&api.WriteOptions{}).WithContext(ctx)); err != nil {
		return fmt.Errorf("register %s: %w", id, err)
	}
	c.healthy[s][i] = true
	return nil
}

// next prepares change k and records it as the state to come: over the S
// changed services it flips instance k/S mod I of service k mod S, so that
// consecutive changes touch different services.
func (c *churn) next(k, streams int) *change {
	changed := c.cfg.services
	if c.cfg.changed > 0 {
		changed = min(c.cfg.changed, changed)
	}
	s := k % changed
	i := (k / changed) % c.cfg.instances
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
	ch := newChange(k, c.serviceName(s), c.instanceID(s, i), status, want, streams)
	ch.s, ch.i = s, i
	return ch
}

// apply writes ch to Consul, restamping its start to the moment the write
// begins: the instance's check is registered again in the catalog with the
// new status, leaving node and service as they are.
func (c *churn) apply(ctx context.Context, ch *change) error {
	if err := c.limiter.Wait(ctx); err != nil {
		return fmt.Errorf("change %d: %w", ch.id, err)
	}
	ch.start = time.Now()
	reg := &api.CatalogRegistration{
		Node: c.nodeName(ch.s, ch.i), Address: c.nodeAddress(ch.s, ch.i), SkipNodeUpdate: true,
		Check: c.check(ch.s, ch.i, ch.status),
	}
	if _, err := c.client.Catalog().Register(reg, (&api.WriteOptions{}).WithContext(ctx)); err != nil {
		return fmt.Errorf("change %d (%s %s): %w", ch.id, ch.instance, ch.status, err)
	}
	return nil
}

// deregister removes every synthetic node churn registered, with its
// service and check, under the same cap.
func (c *churn) deregister(ctx context.Context) error {
	return c.eachInstance(ctx, func(ctx context.Context, s, i int) error {
		node := c.nodeName(s, i)
		if _, err := c.client.Catalog().Deregister(&api.CatalogDeregistration{Node: node}, (&api.WriteOptions{}).WithContext(ctx)); err != nil {
			return fmt.Errorf("deregister %s: %w", node, err)
		}
		return nil
	})
}
