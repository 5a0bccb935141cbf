package main

import (
	"fmt"
	"net"
	"os"
	"time"

	"github.com/hashicorp/consul/api"

	"github.com/switchyard/switchyard/discovery"
	"github.com/switchyard/switchyard/internal/tlsfiles"
	"github.com/switchyard/switchyard/rollout"
	"github.com/switchyard/switchyard/snapshot"
	"github.com/switchyard/switchyard/xds"
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
	// XDSLimits bound what xDS clients may use: streams per connection,
	// message size, ping rate, connection age, shutdown grace and the
	// rate of new streams.
	XDSLimits xdsLimits
	// ConsulTokenFile holds the Consul ACL token; it is re-read while
	// serve runs, so that a rotated token is used without a restart.
	ConsulTokenFile string
	// ConsulTokenPoll is how often the token file is checked for a change.
	ConsulTokenPoll time.Duration
	// TLS serves xDS over TLS or mutual TLS; its zero value is plaintext.
	TLS serveTLS
	// MaxEndpointDrop is the largest share of a service's serving
	// endpoints one update may remove at once, as a percentage ("50%");
	// a bigger drop is held for DropConfirm. "100%" turns the guard off.
	MaxEndpointDrop string
	// DropConfirm is how long a held drop must persist to be applied;
	// zero applies every drop at once.
	DropConfirm time.Duration
	// FleetCertDir is a directory of certificate bundles (<name>.pem) the
	// fleets may serve besides those in Consul KV, read every
	// FleetCertInterval; empty reads none.
	FleetCertDir      string
	FleetCertInterval time.Duration
}

// serveTLS is how xDS is secured.
type serveTLS struct {
	// CertFile and KeyFile are the server certificate and key, reloaded
	// when they change.
	CertFile, KeyFile string
	// ClientCAFile, when set, requires client certificates signed by it.
	ClientCAFile string
	// AuthzNodeIdentity refuses a stream whose node.cluster is not named
	// by its client certificate.
	AuthzNodeIdentity bool
	// Insecure allows plaintext xDS on an address other than loopback.
	Insecure bool
}

// xdsLimits are the limits of the xDS server that serve's flags set.
type xdsLimits struct {
	MaxStreamsPerConn      uint32
	MaxMsgSize             int
	KeepaliveMinPing       time.Duration
	MaxConnectionAge       time.Duration
	ShutdownGrace          time.Duration
	MaxNewStreamsPerSecond float64
}

// defaultServeConfig returns the defaults; the Consul address follows
// Consul's own CONSUL_HTTP_ADDR convention.
func defaultServeConfig() serveConfig {
	return serveConfig{
		ConsulAddr:        defaultConsulAddr(),
		XDSAddr:           "127.0.0.1:18000",
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

		XDSLimits: xdsLimits{
			MaxStreamsPerConn: 1000, MaxMsgSize: xds.DefaultMaxMsgSize,
			KeepaliveMinPing: 10 * time.Second, MaxConnectionAge: 30 * time.Minute,
			ShutdownGrace: 5 * time.Second, MaxNewStreamsPerSecond: xds.DefaultMaxNewStreamsPerSecond,
		},
		ConsulTokenFile:   os.Getenv(api.HTTPTokenFileEnvName),
		ConsulTokenPoll:   discovery.DefaultTokenPoll,
		MaxEndpointDrop:   "50%",
		DropConfirm:       10 * time.Second,
		FleetCertInterval: snapshot.DefaultCertDirInterval,
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
		{"--max-streams-per-conn", intRange(int(c.XDSLimits.MaxStreamsPerConn), 1, 100000)},
		{"--max-msg-size", intRange(c.XDSLimits.MaxMsgSize, 1<<20, 256<<20)},
		{"--keepalive-min-ping", durationRange(c.XDSLimits.KeepaliveMinPing, time.Second, 10*time.Minute)},
		{"--max-connection-age", durationRange(c.XDSLimits.MaxConnectionAge, 10*time.Second, 24*time.Hour)},
		{"--shutdown-grace", durationRange(c.XDSLimits.ShutdownGrace, 100*time.Millisecond, 10*time.Minute)},
		{"--max-new-streams-per-second", floatRange(c.XDSLimits.MaxNewStreamsPerSecond, 1, 100000)},
		{"--max-endpoint-drop", percentRange(c.MaxEndpointDrop)},
		{"--drop-confirm", durationRange(c.DropConfirm, 0, 10*time.Minute)},
		{"--fleet-cert-interval", durationRange(c.FleetCertInterval, 100*time.Millisecond, time.Hour)},
		{"--fleet-cert-dir", dirOrEmpty(c.FleetCertDir)},
	}
	for _, ch := range checks {
		if ch.err != nil {
			return usageError{fmt.Errorf("invalid value for %s: %w", ch.flag, ch.err)}
		}
	}
	return c.TLS.validate(c.XDSAddr)
}

// validate checks that the TLS flags go together and their files load,
// and that plaintext xDS is served only on loopback unless --insecure.
func (t serveTLS) validate(xdsAddr string) error {
	bad := func(format string, args ...any) error { return usageError{fmt.Errorf(format, args...)} }
	switch {
	case t.CertFile == "" && t.KeyFile != "":
		return bad("--tls-key needs --tls-cert")
	case t.CertFile != "" && t.KeyFile == "":
		return bad("--tls-cert needs --tls-key")
	case t.ClientCAFile != "" && t.CertFile == "":
		return bad("--tls-client-ca needs --tls-cert and --tls-key")
	case t.AuthzNodeIdentity && t.ClientCAFile == "":
		return bad("--authz-node-identity needs --tls-client-ca: without client certificates there is no identity to check")
	case t.CertFile == "" && !t.Insecure && !loopback(xdsAddr):
		return bad("invalid value for --xds-addr: %q is not a loopback address, and xDS without --tls-cert and --tls-key is plaintext: serve TLS, or pass --insecure to serve plaintext anyway", xdsAddr)
	case t.CertFile == "":
		return nil
	}
	files := map[string][]byte{}
	for _, f := range []struct{ flag, name string }{{"--tls-cert", t.CertFile}, {"--tls-key", t.KeyFile}, {"--tls-client-ca", t.ClientCAFile}} {
		if f.name == "" {
			continue
		}
		b, err := os.ReadFile(f.name)
		if err != nil {
			return bad("invalid value for %s: %w", f.flag, err)
		}
		files[f.flag] = b
	}
	if _, err := tlsfiles.ParsePair(files["--tls-cert"], files["--tls-key"], time.Now()); err != nil {
		return bad("invalid value for --tls-cert or --tls-key: %w", err)
	}
	if t.ClientCAFile != "" {
		if _, err := tlsfiles.ParsePool(files["--tls-client-ca"]); err != nil {
			return bad("invalid value for --tls-client-ca: %w", err)
		}
	}
	return nil
}

// loopback reports whether a listen address accepts connections only
// from this host: a loopback IP or "localhost". An empty host listens on
// every interface.
func loopback(addr string) bool {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return false
	}
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
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

func floatRange(v, lo, hi float64) error {
	if v < lo || v > hi {
		return fmt.Errorf("%g is outside %g–%g", v, lo, hi)
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

// dirOrEmpty checks that a path, when given, is a readable directory.
func dirOrEmpty(path string) error {
	if path == "" {
		return nil
	}
	fi, err := os.Stat(path)
	if err != nil {
		return err
	}
	if !fi.IsDir() {
		return fmt.Errorf("%s is not a directory", path)
	}
	return nil
}
