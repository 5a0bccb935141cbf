package main

import (
	"errors"
	"fmt"
	"net"
	"time"

	"github.com/spf13/cobra"
)

// loadConfig is the whole command line of `switchyard-load run`.
type loadConfig struct {
	// Target is the control plane under measurement: targetSwitchyard,
	// targetGCP or targetConsul.
	Target                         string
	LoadBin                        string
	ConsulHCL                      []string
	XDSAddr, ConsulAddr, AdminAddr string
	SwitchyardPID                  int
	Start                          bool
	SwitchyardBin, ConsulBin       string
	SwitchyardArgs                 []string

	Protocol     string
	Streams      int
	SlopeStreams int
	NodeCluster  string
	NodePrefix   string

	Services, Instances int
	ServicePrefix       string
	Changes             int
	Rate                float64
	WriteRate, Writers  int
	// SteadyRate and SteadyChanges add a steady-churn phase after the
	// changes; SteadyChanges 0 means none.
	SteadyRate    float64
	SteadyChanges int
	// StalledPercent adds a phase of StalledChanges more changes with
	// this share of the streams stalled; 0 means none.
	StalledPercent float64
	// StalledChanges is how many changes that phase makes; 0 means
	// --changes.
	StalledChanges int

	SyncTimeout, ChangeTimeout time.Duration
	JSON                       bool
}

// defaultConfig is the configuration before flags.
func defaultConfig() loadConfig {
	return loadConfig{
		Target: targetSwitchyard, SwitchyardBin: "bin/switchyard", Protocol: "sotw", Streams: 100, NodeCluster: "load", NodePrefix: "load",
		Services: 100, Instances: 10, ServicePrefix: "load-", Changes: 20, WriteRate: 1000, Writers: 16,
		SyncTimeout: 5 * time.Minute, ChangeTimeout: 30 * time.Second,
	}
}

// bindFlags binds every flag of cmd to cfg.
func bindFlags(cmd *cobra.Command, cfg *loadConfig) {
	fs := cmd.Flags()
	fs.StringVar(&cfg.Target, "target", cfg.Target, "control plane to measure: switchyard, gcp (stock go-control-plane fed by Switchyard's discovery and translation, needs --start) or consul (Consul's own xDS server, needs --start and --protocol delta)")
	fs.StringVar(&cfg.LoadBin, "load-bin", cfg.LoadBin, "switchyard-load binary started as the gcp peer's child (default: this one)")
	fs.StringArrayVar(&cfg.ConsulHCL, "consul-hcl", nil, "extra Consul agent configuration under --start, e.g. 'xds { update_max_per_second = 1000000 }' (repeatable)")
	fs.StringVar(&cfg.XDSAddr, "xds-addr", cfg.XDSAddr, "xDS address of a running Switchyard (without --start)")
	fs.StringVar(&cfg.ConsulAddr, "consul-addr", cfg.ConsulAddr, "HTTP address of the Consul agent that Switchyard follows (without --start)")
	fs.StringVar(&cfg.AdminAddr, "admin-addr", cfg.AdminAddr, "Switchyard admin address, to scrape /metrics (optional without --start)")
	fs.IntVar(&cfg.SwitchyardPID, "switchyard-pid", cfg.SwitchyardPID, "pid of the running Switchyard, for CPU and RSS (optional without --start)")
	fs.BoolVar(&cfg.Start, "start", cfg.Start, "start a Consul dev agent and switchyard serve on free loopback ports, and stop both at the end")
	fs.StringVar(&cfg.SwitchyardBin, "switchyard", cfg.SwitchyardBin, "switchyard binary started by --start")
	fs.StringVar(&cfg.ConsulBin, "consul", cfg.ConsulBin, "consul binary started by --start (default: bin/consul of the repository)")
	fs.StringArrayVar(&cfg.SwitchyardArgs, "switchyard-arg", nil, "extra argument for switchyard serve under --start (repeatable)")
	fs.StringVar(&cfg.Protocol, "protocol", cfg.Protocol, "ADS protocol of the simulated Envoys: sotw or delta")
	fs.IntVar(&cfg.Streams, "streams", cfg.Streams, "simulated Envoys, each on its own gRPC connection")
	fs.IntVar(&cfg.SlopeStreams, "slope-streams", cfg.SlopeStreams, "after the changes, grow the fleet to this many streams and report Switchyard's RSS per stream (0: off)")
	fs.StringVar(&cfg.NodeCluster, "node-cluster", cfg.NodeCluster, "node.cluster of every simulated Envoy")
	fs.StringVar(&cfg.NodePrefix, "node-prefix", cfg.NodePrefix, "node ids are <prefix>-<n>")
	fs.IntVar(&cfg.Services, "services", cfg.Services, "services registered in Consul")
	fs.IntVar(&cfg.Instances, "instances", cfg.Instances, "instances per service")
	fs.StringVar(&cfg.ServicePrefix, "service-prefix", cfg.ServicePrefix, "prefix of the registered service names")
	fs.IntVar(&cfg.Changes, "changes", cfg.Changes, "single-endpoint changes (one catalog check flip each)")
	fs.Float64Var(&cfg.Rate, "rate", cfg.Rate, "changes per second; 0 makes one change at a time, each once every stream saw the previous")
	fs.Float64Var(&cfg.SteadyRate, "steady-rate", cfg.SteadyRate, "changes per second of a steady-churn phase after the changes and the stalled phase (with --steady-changes)")
	fs.IntVar(&cfg.SteadyChanges, "steady-changes", cfg.SteadyChanges, "changes of the steady-churn phase (0: no such phase)")
	fs.Float64Var(&cfg.StalledPercent, "stalled-percent", cfg.StalledPercent, "after the changes, stall this share of the streams and make --stalled-changes more changes, measured on the others (0: no such phase)")
	fs.IntVar(&cfg.StalledChanges, "stalled-changes", cfg.StalledChanges, "changes of the stalled-streams phase (0: as many as --changes)")
	fs.IntVar(&cfg.WriteRate, "write-rate", cfg.WriteRate, "most Consul catalog writes per second, registering, flipping and deregistering (at most 1500)")
	fs.IntVar(&cfg.Writers, "writers", cfg.Writers, "concurrent Consul writers while registering and deregistering")
	fs.DurationVar(&cfg.SyncTimeout, "sync-timeout", cfg.SyncTimeout, "bound of the initial sync of all streams")
	fs.DurationVar(&cfg.ChangeTimeout, "change-timeout", cfg.ChangeTimeout, "how long a change may take to reach every stream")
	fs.BoolVar(&cfg.JSON, "json", cfg.JSON, "print the report as JSON")
}

// validate checks the flags together.
func (c loadConfig) validate() error {
	if err := c.validateTarget(); err != nil {
		return err
	}
	if c.Start == (c.XDSAddr != "") {
		return errors.New("give either --start or --xds-addr and --consul-addr")
	}
	if !c.Start && c.ConsulAddr == "" {
		return errors.New("--consul-addr is required with --xds-addr")
	}
	for _, a := range []struct{ flag, addr string }{{"--xds-addr", c.XDSAddr}, {"--consul-addr", c.ConsulAddr}, {"--admin-addr", c.AdminAddr}} {
		if err := loopback(a.addr); err != nil {
			return fmt.Errorf("%s: %w", a.flag, err)
		}
	}
	switch {
	case c.Protocol != "sotw" && c.Protocol != "delta":
		return fmt.Errorf("--protocol %q: want sotw or delta", c.Protocol)
	case c.Streams < 1 || c.Streams > 20000:
		return fmt.Errorf("--streams %d: want 1–20000", c.Streams)
	case c.SlopeStreams != 0 && (c.SlopeStreams <= c.Streams || c.SlopeStreams > 20000):
		return fmt.Errorf("--slope-streams %d: want more than --streams, at most 20000", c.SlopeStreams)
	case c.Services < 1 || c.Services > 100000 || c.Instances < 1 || c.Instances > 1000:
		return fmt.Errorf("--services %d --instances %d: want 1–100000 and 1–1000", c.Services, c.Instances)
	case c.Changes < 0 || c.Changes > 100000:
		return fmt.Errorf("--changes %d: want 0–100000", c.Changes)
	case c.Rate < 0 || c.Rate > 1000:
		return fmt.Errorf("--rate %g: want 0–1000", c.Rate)
	case c.SteadyChanges < 0 || c.SteadyChanges > 100000 || (c.SteadyChanges > 0 && (c.SteadyRate <= 0 || c.SteadyRate > 1000)):
		return fmt.Errorf("--steady-changes %d --steady-rate %g: want 0–100000 changes, at 1–1000 per second", c.SteadyChanges, c.SteadyRate)
	case c.Services*c.Instances > maxInstances:
		return fmt.Errorf("--services %d × --instances %d: want at most %d instances", c.Services, c.Instances, maxInstances)
	case c.StalledPercent < 0 || c.StalledPercent > 50 || (c.StalledPercent > 0 && c.Changes == 0) || c.StalledChanges < 0 || c.StalledChanges > 100000:
		return fmt.Errorf("--stalled-percent %g --stalled-changes %d: want 0–50 %%, with --changes, and 0–100000 changes", c.StalledPercent, c.StalledChanges)
	case c.WriteRate < 1 || c.WriteRate > 1500 || c.Writers < 1 || c.Writers > 64:
		return fmt.Errorf("--write-rate %d --writers %d: want 1–1500 and 1–64", c.WriteRate, c.Writers)
	case c.SyncTimeout <= 0 || c.ChangeTimeout <= 0:
		return errors.New("--sync-timeout and --change-timeout must be positive")
	}
	return nil
}

// loopback accepts "" or a host:port on a loopback IP: the tool generates
// load and must not aim it off the machine.
func loopback(addr string) error {
	if addr == "" {
		return nil
	}
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("%q: %w", addr, err)
	}
	if host == "localhost" {
		return nil
	}
	if ip := net.ParseIP(host); ip == nil || !ip.IsLoopback() {
		return fmt.Errorf("%q is not a loopback address", addr)
	}
	return nil
}

// The targets a run can measure.
const (
	targetSwitchyard = "switchyard"
	targetGCP        = "gcp"
	targetConsul     = "consul"
)

// validateTarget checks --target against the flags it needs.
func (c loadConfig) validateTarget() error {
	switch c.Target {
	case targetSwitchyard:
		return nil
	case targetGCP, targetConsul:
	default:
		return fmt.Errorf("--target %q: want switchyard, gcp or consul", c.Target)
	}
	if !c.Start {
		return fmt.Errorf("--target %s needs --start", c.Target)
	}
	if c.Target == targetConsul && c.Protocol != "delta" {
		return errors.New("--target consul needs --protocol delta: Consul 1.14 serves only delta xDS")
	}
	return nil
}
