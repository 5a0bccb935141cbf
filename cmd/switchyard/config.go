package main

import (
	"fmt"
	"net"
	"os"
	"time"

	"github.com/switchyard/switchyard/discovery"
	"github.com/switchyard/switchyard/rollout"
)

// serveConfig is everything `switchyard serve` is told, checked once and
// passed down.
type serveConfig struct {
	ConsulAddr        string
	Datacenter        string
	XDSAddr           string
	AdminAddr         string
	EnvoyListenerPort uint32
	LogLevel          string
	LogFormat         string
	DebounceQuiet     time.Duration
	DebounceMax       time.Duration
	// StaleAfter is how long a response may go unanswered before the
	// proxy counts as STALE for its type.
	StaleAfter     time.Duration
	ConsulWait     time.Duration
	ConsulMaxConns int
	// Register has serve register itself in Consul as a replica of
	// service "switchyard", which `switchyard status` finds.
	Register bool
	// Rollouts has serve run the rollout controller, which drives the
	// rollouts stored in Consul KV while this replica holds the leader lock.
	Rollouts bool
	// RolloutTick is how often the leading controller looks at them.
	RolloutTick time.Duration
	// RolloutLockTTL is the TTL of the leader lock's Consul session: a
	// leader that dies without releasing the lock keeps it up to twice
	// that.
	RolloutLockTTL time.Duration
	// LoadReporting names Switchyard the load reporting (LRS) server of
	// every EDS cluster it generates.
	LoadReporting bool
	// LoadReportInterval is how often clients are asked to report load.
	LoadReportInterval time.Duration
	// MaxEndpointDrop is the largest share of a service's serving
	// endpoints one update may remove at once, as a percentage ("50%");
	// a bigger drop is held for DropConfirm. "100%" turns the guard off.
	MaxEndpointDrop string
	// DropConfirm is how long a held drop must persist to be applied;
	// zero applies every drop at once.
	DropConfirm time.Duration
}

// defaultServeConfig returns the defaults; the Consul address follows
// Consul's own CONSUL_HTTP_ADDR convention.
func defaultServeConfig() serveConfig {
	return serveConfig{
		ConsulAddr:        defaultConsulAddr(),
		XDSAddr:           ":18000",
		AdminAddr:         "127.0.0.1:18080",
		EnvoyListenerPort: 10000,
		LogLevel:          "info",
		LogFormat:         "text",
		DebounceQuiet:     50 * time.Millisecond,
		DebounceMax:       500 * time.Millisecond,
		StaleAfter:        10 * time.Second,
		ConsulWait:        5 * time.Minute,
		ConsulMaxConns:    discovery.DefaultMaxConns,
		Register:          true,
		Rollouts:          true,
		RolloutTick:       rollout.DefaultTick,
		RolloutLockTTL:    rollout.DefaultLockTTL,

		LoadReporting:      true,
		LoadReportInterval: time.Second,

		MaxEndpointDrop: "50%",
		DropConfirm:     10 * time.Second,
	}
}

// defaultConsulAddr is Consul's own default: $CONSUL_HTTP_ADDR, else the
// local agent.
func defaultConsulAddr() string {
	if addr := os.Getenv("CONSUL_HTTP_ADDR"); addr != "" {
		return addr
	}
	return "127.0.0.1:8500"
}

// validate names the first flag whose value is unusable.
func (c serveConfig) validate() error {
	checks := []struct {
		flag string
		err  error
	}{
		{"--consul-addr", nonEmpty(c.ConsulAddr)},
		{"--xds-addr", hostPort(c.XDSAddr)},
		{"--admin-addr", hostPort(c.AdminAddr)},
		{"--envoy-listener-port", portRange(c.EnvoyListenerPort)},
		{"--log-level", logLevel(c.LogLevel)},
		{"--log-format", oneOf(c.LogFormat, "text", "json")},
		{"--debounce-quiet", durationRange(c.DebounceQuiet, time.Millisecond, 10*time.Second)},
		{"--debounce-max", durationRange(c.DebounceMax, c.DebounceQuiet, time.Minute)},
		{"--stale-after", durationRange(c.StaleAfter, 100*time.Millisecond, time.Hour)},
		{"--consul-wait", durationRange(c.ConsulWait, time.Second, 10*time.Minute)},
		{"--consul-max-conns", intRange(c.ConsulMaxConns, discovery.MinMaxConns, consulConnsPerClient)},
		{"--rollout-tick", durationRange(c.RolloutTick, 50*time.Millisecond, time.Minute)},
		{"--rollout-lock-ttl", durationRange(c.RolloutLockTTL, rollout.MinLockTTL, 10*time.Minute)},
		{"--load-report-interval", durationRange(c.LoadReportInterval, 100*time.Millisecond, time.Minute)},
		{"--max-endpoint-drop", percentRange(c.MaxEndpointDrop)},
		{"--drop-confirm", durationRange(c.DropConfirm, 0, 10*time.Minute)},
	}
	for _, ch := range checks {
		if ch.err != nil {
			return usageError{fmt.Errorf("invalid value for %s: %w", ch.flag, ch.err)}
		}
	}
	return nil
}

// consulConnsPerClient is Consul's default limits.http_max_conns_per_client:
// a budget above it would have the agent refuse connections.
const consulConnsPerClient = 200

func intRange(v, lo, hi int) error {
	if v < lo || v > hi {
		return fmt.Errorf("%d is outside %d–%d", v, lo, hi)
	}
	return nil
}

func nonEmpty(s string) error {
	if s == "" {
		return fmt.Errorf("must not be empty")
	}
	return nil
}

func hostPort(s string) error {
	_, port, err := net.SplitHostPort(s)
	if err != nil {
		return fmt.Errorf("%q is not host:port", s)
	}
	if _, err := net.LookupPort("tcp", port); err != nil {
		return fmt.Errorf("%q has a bad port", s)
	}
	return nil
}

func portRange(p uint32) error {
	if p < 1 || p > 65535 {
		return fmt.Errorf("%d is out of range 1-65535", p)
	}
	return nil
}

func logLevel(s string) error {
	return oneOf(s, "debug", "info", "warn", "error")
}

func oneOf(s string, allowed ...string) error {
	for _, a := range allowed {
		if s == a {
			return nil
		}
	}
	return fmt.Errorf("%q is not one of %v", s, allowed)
}

// percentRange checks a percentage from 0% to 100%, as rollouts take them.
func percentRange(s string) error {
	_, err := rollout.ParsePercent(s)
	return err
}

func durationRange(d, lo, hi time.Duration) error {
	if d < lo || d > hi {
		return fmt.Errorf("%s is out of range %s-%s", d, lo, hi)
	}
	return nil
}
