package discovery

import (
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/hashicorp/consul/api"
	"github.com/prometheus/client_golang/prometheus"
	"golang.org/x/time/rate"
)

// Defaults for the zero fields of Config.
const (
	DefaultWaitTime   = 5 * time.Minute
	DefaultRateLimit  = rate.Limit(10)
	DefaultRateBurst  = 5
	DefaultMinBackoff = 250 * time.Millisecond
	DefaultMaxBackoff = 30 * time.Second
	// DefaultIndexCheck is how often the source checks that Consul's
	// indexes did not go backwards (a snapshot restore).
	DefaultIndexCheck = 5 * time.Second
	// DefaultMaxConns is well under Consul's default
	// limits.http_max_conns_per_client of 200, leaving room for other
	// clients on the same host.
	DefaultMaxConns = 64
	// MinMaxConns is the smallest budget that works: the catalog watch,
	// the four config-entry watches, the two KV prefix watches, the change
	// detector, the index sentinel, one targeted read and one service
	// watch.
	MinMaxConns = 11
)

// Config configures a ConsulSource. Only Client is required; every other zero
// field takes the matching Default value.
type Config struct {
	// Client talks to the Consul agent, usually the local one.
	Client *api.Client
	// Datacenter is the datacenter to watch; empty means the agent's own,
	// read once at the start of Run. Model.Datacenter and
	// Service.Datacenter are set from it.
	Datacenter string
	// WaitTime is how long one blocking query may wait for a change.
	WaitTime time.Duration
	// RateLimit and RateBurst bound how often each watch queries Consul,
	// whatever Consul answers.
	RateLimit rate.Limit
	RateBurst int
	// MinBackoff and MaxBackoff bound the jittered exponential backoff
	// after a failed query.
	MinBackoff, MaxBackoff time.Duration
	// IndexCheck is how often the source reads Consul's indexes to notice
	// that they went backwards (a snapshot restore), which blocking
	// queries alone may not see until their wait time ends.
	IndexCheck time.Duration
	// MaxConns bounds the HTTP connections discovery holds to Consul. The
	// catalog, the four config-entry kinds and the two KV prefixes hold one
	// each, the index sentinel one now and then; up to MaxConns-9-readers
	// services get a blocking watch of their own
	// (readers is MaxConns/8, between 1 and 8); past that, one catalog-wide
	// change detector finds which services changed and at most readers
	// targeted reads fetch them. Build Client on a transport passed through
	// Conns.Wrap with the same MaxConns so that the bound is enforced.
	MaxConns int
	// Conns, when set, is the counter of Client's transport; the source
	// exports it as the switchyard_consul_connections gauge.
	Conns *ConnCounter
	// Logger receives the source's logs, with component=discovery added;
	// nil means slog.Default().
	Logger *slog.Logger
	// Registerer receives the source's metrics; nil registers none.
	Registerer prometheus.Registerer
}

// withDefaults fills the zero fields and rejects values that cannot work.
func (c Config) withDefaults() (Config, error) {
	if c.Client == nil {
		return c, errors.New("discovery: Config.Client is nil")
	}
	c.WaitTime = orDefault(c.WaitTime, DefaultWaitTime)
	c.RateLimit = orDefault(c.RateLimit, DefaultRateLimit)
	c.RateBurst = orDefault(c.RateBurst, DefaultRateBurst)
	c.MinBackoff = orDefault(c.MinBackoff, DefaultMinBackoff)
	c.MaxBackoff = orDefault(c.MaxBackoff, DefaultMaxBackoff)
	c.MaxConns = orDefault(c.MaxConns, DefaultMaxConns)
	c.IndexCheck = orDefault(c.IndexCheck, DefaultIndexCheck)
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	switch {
	case c.IndexCheck < 0:
		return c, fmt.Errorf("discovery: IndexCheck %s is negative", c.IndexCheck)
	case c.WaitTime < 0:
		return c, fmt.Errorf("discovery: WaitTime %s is negative", c.WaitTime)
	case c.RateLimit < 0 || c.RateBurst < 0:
		return c, fmt.Errorf("discovery: rate limit %v burst %d must not be negative", c.RateLimit, c.RateBurst)
	case c.MinBackoff < 0 || c.MaxBackoff < c.MinBackoff:
		return c, fmt.Errorf("discovery: backoff bounds %s..%s are not ordered", c.MinBackoff, c.MaxBackoff)
	case c.MaxConns < MinMaxConns:
		return c, fmt.Errorf("discovery: MaxConns %d is below the minimum %d", c.MaxConns, MinMaxConns)
	}
	return c, nil
}

// orDefault returns def when v is zero.
func orDefault[T comparable](v, def T) T {
	var zero T
	if v == zero {
		return def
	}
	return v
}

// readers is how many targeted reads may run at once.
func (c Config) readers() int {
	return min(max(c.MaxConns/8, 1), 8)
}

// serviceWatches is how many services may have a blocking watch of their
// own: the budget less the catalog watch, the detector, the index
// sentinel, the readers, the config-entry watches and the KV watches.
func (c Config) serviceWatches() int {
	return c.MaxConns - 3 - c.readers() - configWatches - kvWatches
}
